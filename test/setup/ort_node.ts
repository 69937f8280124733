// Tests run the engine on onnxruntime-node, as the CLI does (the web tests drive onnxruntime-web in Chromium).
import '../../src/engine/runtime/node.js';
