/**
 * onnxruntime-node as a tensor engine: sessions over graphs built with onnx-graph.ts, on the CPU
 * provider, using every core (onnxruntime runs on its own threads, so the JS thread stays free).
 */
import * as ort from 'onnxruntime-node';
import os from 'node:os';
import { buildOnnxModel, type GraphSpec } from './onnx-graph.js';

export { ort };

export async function graphSession(graph: GraphSpec, threads = os.availableParallelism()): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(buildOnnxModel(graph), {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}
