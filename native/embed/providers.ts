/**
 * onnxruntime execution providers for the CLIP encoders: `auto | cpu | cuda | webgpu | coreml | dml`.
 *
 * onnxruntime-node lists what its build can use (`listSupportedBackends()`: cpu and webgpu bundled,
 * cuda and tensorrt only when its install script fetched the provider libraries). `auto` tries the
 * platform's GPU providers that are listed, best first, and settles on the first that creates a
 * session; otherwise it uses the CPU and says why in one line. An explicitly named provider that
 * cannot start also falls back to the CPU with that line, unless `strict` is asked (the GPU bench).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';

export const PROVIDERS = ['auto', 'cpu', 'cuda', 'webgpu', 'coreml', 'dml'] as const;
export type ProviderName = (typeof PROVIDERS)[number];
export type ConcreteProvider = Exclude<ProviderName, 'auto'>;

export interface ProviderInfo {
  name: ConcreteProvider;
  /** listed by this onnxruntime-node build (listSupportedBackends) */
  listed: boolean;
  /** shipped inside the npm package (false: the install script fetches it, e.g. CUDA on Linux) */
  bundled: boolean;
  /** what the provider is and what it needs */
  note: string;
  /** after probeProviders(): whether a session could be created with it, and if not, why */
  available?: boolean;
  reason?: string;
}

const NOTES: Record<ConcreteProvider, string> = {
  cpu: 'onnxruntime CPU (MLAS), every core',
  cuda: 'NVIDIA GPUs: needs onnxruntime-node\'s CUDA provider libraries (its install script fetches them on Linux x64) and CUDA 12 + cuDNN 9 runtime libraries',
  webgpu: 'WebGPU (Dawn over Vulkan, Metal or Direct3D 12): any vendor\'s GPU with a working driver',
  coreml: 'Apple Core ML (macOS)',
  dml: 'DirectML (Windows, any Direct3D 12 GPU)',
};

/** Which GPU providers `auto` tries on this platform, best first. */
export function autoOrder(platform: NodeJS.Platform = process.platform): ConcreteProvider[] {
  if (platform === 'darwin') return ['coreml', 'webgpu'];
  if (platform === 'win32') return ['cuda', 'dml', 'webgpu'];
  return ['cuda', 'webgpu'];
}

function backends(): { name: string; bundled: boolean }[] {
  try {
    return ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));
  } catch {
    return [{ name: 'cpu', bundled: true }];
  }
}

/** Every provider Sieve knows, and whether this onnxruntime-node build lists it. */
export function listProviders(): ProviderInfo[] {
  const listed = new Map(backends().map((b) => [b.name, b.bundled]));
  return (['cpu', 'cuda', 'webgpu', 'coreml', 'dml'] as ConcreteProvider[]).map((name) => ({
    name,
    listed: listed.has(name),
    bundled: listed.get(name) ?? false,
    note: NOTES[name],
  }));
}

/** The folder of onnxruntime-node's native binding (where provider libraries must lie). */
export function ortBinDir(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
    return path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return null;
  }
}

/** A short reason for a provider's failure, in words a user can act on. */
export function explainFailure(name: ConcreteProvider, e: unknown): string {
  const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0];
  if (name === 'cuda' || name === ('tensorrt' as ConcreteProvider)) {
    const dir = ortBinDir();
    const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    if (dir && !fs.existsSync(path.join(dir, lib))) {
      return `${lib} is not installed beside onnxruntime-node (its install script fetches it; see docs/embed.md)`;
    }
    if (/Failed to load|cannot open shared object|libcu|cudnn/i.test(msg)) {
      return `the CUDA provider is installed but did not load (CUDA 12 / cuDNN 9 runtime libraries missing? ${msg.slice(0, 160)})`;
    }
  }
  if (name === 'webgpu' && /adapter/i.test(msg)) return 'no WebGPU adapter (no GPU, or no Vulkan/Metal/D3D12 driver)';
  if (/backend not found|no available backend/i.test(msg)) return 'not in this onnxruntime-node build';
  return msg.slice(0, 200);
}

export interface SessionChoice {
  session: ort.InferenceSession;
  provider: ConcreteProvider;
  /** one line saying why the asked provider was not used, when it was not */
  fallback?: string;
}

export interface SessionOptions {
  /** CPU threads for onnxruntime (default: every core) */
  threads?: number;
  /** fail instead of falling back to the CPU */
  strict?: boolean;
  /** GPU device index (cuda, dml) */
  deviceId?: number;
}

/** Whether a Vulkan loader is installed (Linux): without it Dawn has no adapter, and says so noisily. */
export function vulkanPresent(): boolean {
  if (process.platform !== 'linux') return true;
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib64', '/usr/local/lib',
  ];
  if (dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')))) return true;
  try {
    return fs.readFileSync('/etc/ld.so.cache').includes('libvulkan.so.1');
  } catch {
    return false;
  }
}

/** A reason not to try a listed provider at all, found without loading it. */
function precheck(name: ConcreteProvider): string | null {
  if (name === 'webgpu' && !vulkanPresent()) return 'no Vulkan loader (libvulkan.so.1) for WebGPU';
  if (name === 'cuda' && process.platform === 'linux') {
    const dir = ortBinDir();
    if (dir && !fs.existsSync(path.join(dir, 'libonnxruntime_providers_cuda.so'))) return explainFailure('cuda', new Error('not installed'));
  }
  return null;
}

/** onnxruntime logs a failed provider library load as an error line of its own; the fallback line
 * says it better. The level is global and taken when onnxruntime first starts. */
function quietOrt(): void {
  if (ort.env.logLevel === undefined || ort.env.logLevel === 'warning') ort.env.logLevel = 'fatal';
}

function providerOptions(name: ConcreteProvider, deviceId: number): ort.InferenceSession.ExecutionProviderConfig {
  switch (name) {
    case 'cuda':
      return { name: 'cuda', deviceId };
    case 'dml':
      return { name: 'dml', deviceId } as ort.InferenceSession.ExecutionProviderConfig;
    case 'webgpu':
      return { name: 'webgpu' } as ort.InferenceSession.ExecutionProviderConfig;
    case 'coreml':
      return { name: 'coreml' } as ort.InferenceSession.ExecutionProviderConfig;
    default:
      return 'cpu';
  }
}

async function create(model: string | Uint8Array, name: ConcreteProvider, opts: SessionOptions): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [providerOptions(name, opts.deviceId ?? 0)],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  };
  if (name === 'cpu') {
    options.intraOpNumThreads = opts.threads ?? os.availableParallelism();
    options.interOpNumThreads = 1;
    // no spin-waiting between runs: the decode workers need those cores (measured on 2 cores:
    // ViT-B/32 alone 81 -> 67 ms CPU per image, and faster beside the decoders)
    options.extra = { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } };
  }
  return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
}

/**
 * A session on the asked provider, or on the CPU with one line saying why not. Model errors (a
 * corrupt file, an unsupported operator on the CPU) are thrown, not taken for provider failures.
 */
export async function createSession(model: string | Uint8Array, asked: ProviderName, opts: SessionOptions = {}): Promise<SessionChoice> {
  if (asked === 'cpu') return { session: await create(model, 'cpu', opts), provider: 'cpu' };
  const listed = new Set(backends().map((b) => b.name));
  const candidates = asked === 'auto' ? autoOrder() : [asked];
  const why: string[] = [];
  for (const name of candidates) {
    if (!listed.has(name)) {
      why.push(`${name}: ${name === 'cuda' && process.platform === 'linux' ? explainFailure('cuda', new Error('not listed')) : 'not in this onnxruntime-node build'}`);
      continue;
    }
    const pre = precheck(name);
    if (pre) {
      why.push(`${name}: ${pre}`);
      continue;
    }
    quietOrt();
    try {
      return { session: await create(model, name, opts), provider: name };
    } catch (e) {
      why.push(`${name}: ${explainFailure(name, e)}`);
    }
  }
  const line = asked === 'auto' ? `no GPU provider started (${why.join('; ')}); using the CPU` : `provider ${asked} did not start (${why.join('; ')}); using the CPU`;
  if (opts.strict && asked !== 'auto') throw new Error(line.replace(/; using the CPU$/, ''));
  return { session: await create(model, 'cpu', opts), provider: 'cpu', fallback: line };
}

/** Try each listed provider on a one-node model: what would start here, and why not. */
export async function probeProviders(): Promise<ProviderInfo[]> {
  const { buildOnnxModel } = await import('../tensor/onnx-graph.js');
  const tiny = buildOnnxModel({
    inputs: [{ name: 'x', type: 'float', shape: [1, 4] }],
    outputs: [{ name: 'y', type: 'float', shape: [1, 4] }],
    nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
  });
  const out: ProviderInfo[] = [];
  for (const p of listProviders()) {
    if (!p.listed) {
      out.push({ ...p, available: false, reason: p.name === 'cuda' && process.platform === 'linux' ? explainFailure('cuda', new Error('not listed')) : 'not in this onnxruntime-node build' });
      continue;
    }
    const pre = p.name === 'cpu' ? null : precheck(p.name);
    if (pre) {
      out.push({ ...p, available: false, reason: pre });
      continue;
    }
    if (p.name !== 'cpu') quietOrt();
    try {
      const s = await create(tiny, p.name, { threads: 1 });
      await s.release();
      out.push({ ...p, available: true });
    } catch (e) {
      out.push({ ...p, available: false, reason: explainFailure(p.name, e) });
    }
  }
  return out;
}
