/**
 * The filter kinds Sieve knows, with their parameter schemas, defaults and a one-line explanation
 * with the source they follow. The spec validator, the CLI and the app's forms all read this list;
 * the implementations live in leaves/.
 */
import type { FilterKind, ParamSchema } from './kind.js';
import { PAPER_KINDS } from './papers/index.js';

export type { FilterKind, ParamSchema };

const ARCH: ParamSchema = {
  type: 'enum',
  values: ['b32', 'l14'],
  default: 'l14',
  description: 'which CLIP score column: clip_b32_similarity_score or clip_l14_similarity_score',
};
const FRACTION: ParamSchema = {
  type: 'number',
  min: 0,
  minExclusive: true,
  max: 1,
  description: 'keep the top share by score: t = sorted_desc[int(N * fraction)], then score >= t (ties kept; NaN counts in N and never passes)',
};

const DATACOMP_KINDS: FilterKind[] = [
  {
    name: 'none',
    title: 'No filter',
    description: 'Keeps every sample (DataComp no_filter).',
    citation: 'DataComp (Gadre et al., 2023), baselines/apply_filter.py',
    params: {},
  },
  {
    name: 'basic',
    title: 'Basic',
    description:
      'English caption (fastText lid.176 top-1), more than 2 words, more than 5 characters, min side >= 200 px, aspect ratio <= 3 (DataComp basic_filter).',
    citation: 'DataComp (Gadre et al., 2023), baselines/apply_filter.py',
    params: {},
  },
  {
    name: 'clip_score',
    title: 'CLIP score',
    description: 'Keeps samples whose CLIP image-text cosine is at least a threshold, or in the top fraction of the pool (ties kept).',
    citation: 'DataComp (Gadre et al., 2023): L/14 top 30% is the best small-scale baseline',
    params: {
      arch: ARCH,
      threshold: { type: 'number', min: -1, max: 1, description: 'keep score >= threshold, compared in float32 as pandas does' },
      fraction: FRACTION,
    },
    oneOf: [['threshold', 'fraction']],
  },
  {
    name: 'laion2b',
    title: 'LAION-2B',
    description: 'B/32 CLIP score >= 0.28 and an English caption by CLD3 (gcld3 with min_num_bytes=0, max_num_bytes=1000).',
    citation: 'LAION-5B (Schuhmann et al., 2022) as reproduced in DataComp baselines/apply_filter.py',
    params: {},
  },
  {
    name: 'text_based',
    title: 'Text-based',
    description:
      'English caption with some word whose first WordNet 3.0 synset (NLTK order) is in the synset list (DataComp used ImageNet-21k).',
    citation: 'DataComp (Gadre et al., 2023), baselines/apply_filter.py',
    params: {
      synsets: { type: 'path', required: true, description: 'text file of WordNet ids, one per line (n01440764)' },
    },
  },
  {
    name: 'image_based',
    title: 'Image-based',
    description:
      'Caption rule (English, > 1 fastText token, > 5 characters), then keep rows whose nearest pool centroid (L/14 image features, inner product) is nearest to some target embedding.',
    citation: 'DataComp (Gadre et al., 2023), baselines/image_based_clustering.py',
    params: {
      targets: { type: 'path', required: true, description: 'M x D float .npy of target image embeddings (DataComp: ImageNet-1k train, L/14)' },
      centroids: { type: 'path', description: 'K x D float .npy of pool centroids; omit to cluster the pool with k' },
      k: { type: 'int', min: 1, max: 1000000, description: 'number of k-means centroids when none are given (DataComp: 100,000 on 12.8B; about N/128 here)' },
      iterations: { type: 'int', min: 1, max: 1000, default: 20, description: 'k-means iterations (DataComp: 20)' },
      seed: { type: 'int', min: 0, default: 0, description: 'k-means seed (DataComp: 0): draws the sample and the initial centres' },
      sample_per_centroid: {
        type: 'int',
        min: 1,
        default: 39,
        description:
          'k-means is fitted on a seeded sample of at most this many caption-filtered rows per centroid (39 is faiss\'s minimum, 256 its maximum); every row is then assigned exactly',
      },
    },
    oneOf: [['centroids', 'k']],
  },
  {
    name: 'subset',
    title: 'Subset file',
    description: 'Keeps the rows whose uid a subset file lists: a DataComp .npy (any order, repeats allowed), or a .parquet/.csv with a uid column.',
    citation: 'DataComp (Gadre et al., 2023): the subset format its resharder reads',
    params: {
      file: { type: 'path', required: true, description: 'the subset file' },
      sha256: { type: 'string', description: 'when given, the file must still have this content (sha256 hex)' },
    },
  },
];

/** Every kind: DataComp's baselines first, then the papers' filters (native/filters/papers). */
export const CATALOGUE: FilterKind[] = [...DATACOMP_KINDS, ...PAPER_KINDS];
