/**
 * The public face of native/embed (CLIP features with onnxruntime-node), for the CLI, the engine
 * and other modules:
 * - embedPool(pool, options): image/text features of every row, resumable, with progress + cancel;
 * - textQuerySimilarity / textsSimilarity / zeroShot: per-row cosine similarity to text prompts;
 * - listProviders / probeProviders: the execution providers and whether they start here;
 * - readModelSpec, ClipTokenizer, preprocessImage: the pieces, for tests and tools.
 */
export { embedPool, writeFeatureNpy, targetFeatures, type EmbedOptions, type EmbedResult, type EmbedPart, type EmbedWhat, type EmbedTimings } from './pipeline.js';
export { textQuerySimilarity, textsSimilarity, zeroShot, embedTexts, releaseQueryModels, type TextQueryOptions, type TextSimilarity } from './query.js';
export { listProviders, probeProviders, PROVIDERS, type ProviderName, type ProviderInfo } from './providers.js';
export { readModelSpec, loadClipModel, featureNames, type ModelSpec, type ClipModel } from './model.js';
export { ClipTokenizer, cleanText, htmlUnescape, SOT, EOT, CONTEXT_LENGTH } from './tokenizer.js';
export { preprocessImage, clipGeometry, CLIP_MEAN, CLIP_STD, type PreprocessSpec } from './preprocess.js';
export { readFailures, type Failure } from './store.js';
export type { ScoreReport } from './scores.js';
