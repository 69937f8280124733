// Types for the asm.js (no WebAssembly file to fetch) OpenJPEG decoder used for JPEG 2000 DICOM.
declare module '@cornerstonejs/codec-openjpeg/decode' {
  interface FrameInfo {
    width: number;
    height: number;
    bitsPerSample: number;
    componentCount: number;
    isSigned: boolean;
  }
  interface J2KDecoder {
    getEncodedBuffer(length: number): Uint8Array;
    decode(): void;
    getFrameInfo(): FrameInfo;
    getDecodedBuffer(): Uint8Array;
    delete?(): void;
  }
  interface OpenJPEGModule {
    J2KDecoder: new () => J2KDecoder;
  }
  const factory: (opts?: { print?: (s: string) => void; printErr?: (s: string) => void }) => Promise<OpenJPEGModule>;
  export default factory;
}
declare module '@cornerstonejs/codec-openjpeg/decodewasmjs' {
  import factory from '@cornerstonejs/codec-openjpeg/decode';
  export default factory;
}
