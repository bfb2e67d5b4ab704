/**
 * The reshard's copy (issue 4): the members of one output shard, read from the source tars and
 * written as a deterministic ustar file at close to the speed of a plain copy.
 *
 * Every member's place in the output is known before any byte is read: its header blocks (512
 * bytes unless its name needs a pax record) then its data padded to 512. So the shard is built in
 * 1 MB chunks by reading the source bytes straight to their final place in the chunk, with
 * no copy in JS: members that follow each other in the source tar as they do in the output (a
 * sample's `.jpg`, `.json`, `.txt`; consecutive kept samples in source order) form one run and one
 * read, because between two adjacent members the source tar holds exactly one 512-byte header
 * block, the same room their output header takes. The source headers read along are then
 * overwritten with Sieve's own (fixed mode, owner, mtime) and the padding zeroed, so the output
 * never depends on what the source had there. Reads are asynchronous (libuv's threads read several
 * runs at once: queue depth for a cold disk, parallel memory copies for a warm one) and a chunk is
 * written while the next one is read (two buffers), so reading and writing overlap.
 */
import fs from 'node:fs';
import { badInput, SieveError } from '../errors.js';
import { writeAll } from './atomic.js';
import { padded, UstarHeaders } from '../formats/tar.js';

/** The members of one output shard in output order (sample n, then the source's member order). */
export interface ShardMembers {
  /** the sample number of each member (non-decreasing) */
  ns: Int32Array;
  /** member q's name is `names[nameFrom[q] .. nameTo[q])`, UTF-8 (the pool's whole name array, shared) */
  names: Uint8Array;
  nameFrom: Uint32Array;
  nameTo: Uint32Array;
  /** the data offset and size of each member in its source tar */
  offsets: Float64Array;
  sizes: Float64Array;
  /** the source tar of each member (index into the pool's tars) */
  tarIdx: Int32Array;
}

/** Small LRU of read-only file descriptors of the source tars (never closing one with reads in flight). */
export class TarFiles {
  private fds = new Map<number, number>();
  private inFlight = new Map<number, number>();
  constructor(
    private readonly paths: readonly string[],
    private readonly max = 64,
  ) {}

  private fd(tar: number): number {
    let fd = this.fds.get(tar);
    if (fd !== undefined) {
      this.fds.delete(tar);
      this.fds.set(tar, fd);
      return fd;
    }
    try {
      fd = fs.openSync(this.paths[tar], 'r');
    } catch (e) {
      throw badInput(this.paths[tar], `cannot read the source tar (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); was it moved since the pool was opened?`);
    }
    this.fds.set(tar, fd);
    if (this.fds.size > this.max) {
      for (const [oldTar, oldFd] of this.fds) {
        if (oldTar === tar || this.inFlight.get(oldTar)) continue;
        this.fds.delete(oldTar);
        fs.closeSync(oldFd);
        break;
      }
    }
    return fd;
  }

  /** Read `length` bytes at `position` of a tar into `buf[at..)`, all of them or an error. */
  read(tar: number, buf: Buffer, at: number, length: number, position: number): Promise<void> {
    const fd = this.fd(tar);
    this.inFlight.set(tar, (this.inFlight.get(tar) ?? 0) + 1);
    return new Promise<void>((resolve, reject) => {
      const step = (got: number) => {
        if (got >= length) return resolve();
        fs.read(fd, buf, at + got, length - got, position + got, (err, n) => {
          if (err) return reject(err);
          if (n === 0) return reject(this.truncated(tar, length, position));
          step(got + n);
        });
      };
      step(0);
    }).finally(() => this.inFlight.set(tar, (this.inFlight.get(tar) ?? 1) - 1));
  }

  /** The same, synchronously (fewer costs per read where reads are few and large). */
  readSync(tar: number, buf: Buffer, at: number, length: number, position: number): void {
    const fd = this.fd(tar);
    for (let got = 0; got < length; ) {
      const n = fs.readSync(fd, buf, at + got, length - got, position + got);
      if (n === 0) throw this.truncated(tar, length, position);
      got += n;
    }
  }

  private truncated(tar: number, length: number, position: number): SieveError {
    return badInput(this.paths[tar], `truncated: ${length} bytes at offset ${position} are not all there (the tar changed since the pool was opened?)`);
  }

  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }
}

function writeAt(fd: number, buf: Buffer, length: number, position: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const step = (done: number) => {
      if (done >= length) return resolve();
      fs.write(fd, buf, done, length - done, position + done, (err, n) => (err ? reject(err) : step(done + n)));
    };
    step(0);
  });
}

/** Uint8Array's own fill, without Buffer.fill's argument handling. */
const zeroFill = Uint8Array.prototype.fill;

const cancelled = () => new SieveError('cancelled', 'the reshard was cancelled; run it again to resume');

/**
 * Chunk size: 1 MB. The chunk is read into and written from the CPU's cache; 8 MB chunks, which
 * leave the cache between the read and the write, copied at half the speed here (measured).
 */
export const CHUNK_BYTES = 1 << 20;
/** Asynchronous reads are made in pieces of at most this, so that even one long run is read by several threads. */
const PIECE = 256 << 10;
/**
 * A chunk's sync reads are "slow" (the disk, not the page cache) once they took over
 * SLOW_READ_MIN_MS and moved under SLOW_READ_BYTES_PER_MS (1 GB/s; page-cache reads run at 1.5-5
 * GB/s here, so a warm 1 MB chunk takes well under 1 ms; a host-cached virtual disk reads at
 * 0.2-1.6 GB/s, a cold 7 KB sample at random in 0.1-1 ms, a real disk's far slower).
 */
const SLOW_READ_MIN_MS = 2;
const SLOW_READ_BYTES_PER_MS = 1e6;
const ASYNC_CHUNKS = 16;

/** Copies shards; its two chunk buffers are reused from shard to shard (constant memory). */
export class MemberCopier {
  private readonly bufs: Buffer[];
  private readonly headers: UstarHeaders;
  /** chunks still to read asynchronously before sync reads are tried again (see readRun) */
  private asyncChunksLeft = 0;
  /** this chunk's sync reads: time (ms) and bytes */
  private syncMs = 0;
  private syncBytes = 0;

  constructor(
    private readonly tars: TarFiles,
    mtime: number,
    chunkBytes = CHUNK_BYTES,
    /** `async`: never read synchronously (the path a cold disk takes; for tests) */
    private readonly reads: 'auto' | 'async' = 'auto',
  ) {
    this.headers = new UstarHeaders(mtime);
    // every byte of a chunk is written before it is used (headers, read data, zeroed padding)
    const size = Math.max(chunkBytes, 64 << 10);
    this.bufs = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
  }

  /**
   * Write the shard's members and the end-of-archive blocks to `fd` (from offset 0); returns the
   * bytes written. `onChunk(samples)` is told how many of the shard's samples are written so far.
   */
  async copy(fd: number, m: ShardMembers, opts: { signal?: AbortSignal; onChunk?: (samples: number) => void } = {}): Promise<number> {
    const { ns, names, nameFrom, nameTo, offsets, sizes, tarIdx } = m;
    const count = ns.length;
    const hdr = new Int32Array(count);
    for (let q = 0; q < count; q++) hdr[q] = this.headers.sizeOfName(names, nameFrom[q], nameTo[q]);
    const pos = new Int32Array(count); // each member's start in its chunk (int: fast indexing below)
    const writes: (Promise<void> | null)[] = [null, null];
    let which = 0;
    let outPos = 0;
    let q = 0;
    let ended = false;
    try {
      while (!ended) {
        if (opts.signal?.aborted) throw cancelled();
        const b = this.bufs[which];
        await writes[which]; // the write that last used this buffer
        // the members that fit in this chunk, at their places
        const q0 = q;
        let fill = 0;
        while (q < count) {
          const len = hdr[q] + padded(sizes[q]);
          if (fill + len > b.length) break;
          pos[q] = fill;
          fill += len;
          q++;
        }
        if (q === q0 && q < count) {
          await Promise.all(writes);
          outPos = this.copyLarge(fd, b, outPos, m, q);
          q++;
          continue;
        }
        // one read per run of members adjacent in the source as in the output
        const reads: Promise<void>[] = [];
        this.syncMs = 0;
        this.syncBytes = 0;
        for (let r = q0; r < q; ) {
          const first = r++;
          while (r < q && tarIdx[r] === tarIdx[first] && offsets[r] - offsets[r - 1] === padded(sizes[r - 1]) + hdr[r]) r++;
          const length = offsets[r - 1] + sizes[r - 1] - offsets[first];
          this.readRun(reads, tarIdx[first], b, pos[first] + hdr[first], length, offsets[first]);
        }
        await Promise.all(reads);
        if (this.asyncChunksLeft > 0 && reads.length) this.asyncChunksLeft--;
        // Sieve's headers over the source's, and zero padding (TypedArray fill: Buffer.fill's checks
        // cost ~1 µs a call; a JS loop runs ~15 MB of byte stores unoptimized until V8 compiles it,
        // which on a busy machine made a process's first reshard copy 2-3x slower than the next)
        for (let i = q0; i < q; i++) {
          this.headers.writeNamed(b, pos[i], names, nameFrom[i], nameTo[i], sizes[i]);
          const dataEnd = (pos[i] + hdr[i] + sizes[i]) | 0;
          const end = (pos[i] + hdr[i] + padded(sizes[i])) | 0;
          if (dataEnd < end) zeroFill.call(b, 0, dataEnd, end);
        }
        if (q === count && fill + 1024 <= b.length) {
          b.fill(0, fill, fill + 1024);
          fill += 1024;
          ended = true;
        }
        // written while the next chunk is read into the other buffer
        const w = writeAt(fd, b, fill, outPos);
        w.catch(() => undefined); // awaited before the buffer is reused, and at the end
        writes[which] = w;
        which ^= 1;
        outPos += fill;
        opts.onChunk?.(q === count ? ns[count - 1] - ns[0] + 1 : ns[q] - ns[0]);
      }
      await Promise.all(writes);
    } finally {
      // no write may still run when the caller closes the fd (after an error too)
      await Promise.allSettled(writes);
    }
    return outPos;
  }

  /**
   * Read one run into the chunk: synchronously while reads run at page-cache speed (a warm tar:
   * a sync read costs a few µs, an asynchronous one ~10-20 µs of promise and thread-pool hops,
   * which in uid order, one run per sample, was the main thread's largest cost); asynchronously in
   * pieces once they do not (a cold disk: libuv's threads keep several reads in flight, where sync
   * reads would wait for each in turn). Judged on the chunk's sync reads so far: past
   * SLOW_READ_MIN_MS at under SLOW_READ_BYTES_PER_MS, the rest of the chunk and the next
   * ASYNC_CHUNKS chunks are read asynchronously, then sync is tried again.
   */
  private readRun(reads: Promise<void>[], tar: number, b: Buffer, at: number, length: number, position: number): void {
    if (this.reads === 'auto' && this.asyncChunksLeft === 0) {
      const t = performance.now();
      this.tars.readSync(tar, b, at, length, position);
      this.syncMs += performance.now() - t;
      this.syncBytes += length;
      if (this.syncMs > SLOW_READ_MIN_MS && this.syncBytes < this.syncMs * SLOW_READ_BYTES_PER_MS) this.asyncChunksLeft = ASYNC_CHUNKS;
      return;
    }
    for (let done = 0; done < length; done += PIECE) reads.push(this.tars.read(tar, b, at + done, Math.min(PIECE, length - done), position + done));
  }

  /** A member that does not fit a chunk: its header, then its data through the chunk buffer. */
  private copyLarge(fd: number, b: Buffer, outPos: number, m: ShardMembers, q: number): number {
    const tar = m.tarIdx[q];
    const offset = m.offsets[q];
    const size = m.sizes[q];
    const h = this.headers.writeNamed(b, 0, m.names, m.nameFrom[q], m.nameTo[q], size);
    writeAll(fd, b.subarray(0, h), outPos);
    outPos += h;
    for (let done = 0; done < size; ) {
      const n = Math.min(b.length, size - done);
      this.tars.readSync(tar, b, 0, n, offset + done);
      writeAll(fd, b.subarray(0, n), outPos);
      outPos += n;
      done += n;
    }
    const pad = padded(size) - size;
    if (pad) {
      b.fill(0, 0, pad);
      writeAll(fd, b.subarray(0, pad), outPos);
      outPos += pad;
    }
    return outPos;
  }
}
