/** A checkpoint and the task a command applies it to (registry task, or one of the checkpoint's own). */
import { type DatasetInfo, getDataset } from '../data/index.js';
import { type LoadedModel, loadModel } from '../training/checkpoint.js';
import { UserError } from '../training/errors.js';
import { useCheckpointTasks } from '../training/task_from_data.js';

export async function loadCheckpointTask(checkpoint: string, task: string): Promise<{ m: LoadedModel; info: DatasetInfo }> {
  const m = await loadModel(checkpoint);
  // A task of your own is known from the checkpoint's head (its class names and colour).
  useCheckpointTasks(m, checkpoint);
  try {
    return { m, info: getDataset(task) };
  } catch (e) {
    throw new UserError((e as Error).message);
  }
}
