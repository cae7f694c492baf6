// The local bucket's S3 → EventBridge notifications: every object created under the artifact root becomes the
// `Object Created` event S3 would send (events/object-created.ts) on the local bus, where the deployment's own rules
// (events/routes.ts) pick what they route: a stage's result.json, or the failure.json a failing stage writes, goes to
// the completion queue (the pushed completion: rules stage-result-written and stage-failure-written), anything else
// matches no rule. Jobs write into the folder themselves (Python, atomic rename), so this
// watches the folder (fs.watch, inotify on Linux) rather than the store's own writes.
//
// Watched: the artifact root and its folders down to the stage folders (<root>/<pipeline>/<runId>/<stage>/); a
// new folder is watched and then read once, so an object written before its folder's watch existed is not missed.
// Deeper folders (checkpoints, logs, Ray's trial folders) are not watched: no rule routes them. Temporary files of
// atomic writes (`*.tmp`, `*.lock`, `*.stale`, dot-files) are not objects. An object is announced once per write
// (its inode, size and mtime), after 15 ms without further change, so a writer that writes in several calls is
// announced complete, as S3 announces a PUT only once it is whole.
import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { EventPublisher } from '../core/ports.js';
import { objectCreatedEvent } from '../events/object-created.js';
import { logger } from '../functions/lib/logger.js';

export interface ObjectEventsOptions {
  /** The folder that stands in for the bucket (keys are relative to it). */
  bucketPath: string;
  /** The bucket name the events carry (the local rules match it). */
  bucket: string;
  /** The folder to watch: the artifact root, inside the bucket folder. */
  root: string;
  publisher: EventPublisher;
  /** Folder levels below the root that are watched (3: pipeline, run, stage). */
  depth?: number;
  quietMs?: number;
}

const notAnObject = (name: string) => name.startsWith('.') || /\.(tmp|lock|stale)$/.test(name);

export class LocalObjectEvents {
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly announced = new Map<string, string>();
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;
  /** Objects announced so far (what a benchmark or test may count). */
  emitted = 0;

  constructor(private readonly o: ObjectEventsOptions) {
    const rel = relative(o.bucketPath, o.root);
    if (rel.startsWith('..') || rel === '' || rel.startsWith(sep)) throw new Error(`the artifact root ${o.root} is not inside the bucket folder ${o.bucketPath}`);
  }

  /** Starts watching (the root must exist). */
  async start(): Promise<void> {
    await this.watchFolder(this.o.root, 0);
  }

  private async watchFolder(dir: string, level: number): Promise<void> {
    if (this.closed || this.watchers.has(dir)) return;
    let w: FSWatcher;
    try {
      w = watch(dir, { persistent: false }, (_type, name) => {
        if (name) this.touched(join(dir, name.toString()), level + 1);
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // removed before it could be watched
      throw e;
    }
    w.on('error', () => this.unwatch(dir));
    this.watchers.set(dir, w);
    // What was created before the watch began (a job that made its folder and wrote at once).
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) this.touched(join(dir, name), level + 1);
  }

  private unwatch(dir: string) {
    this.watchers.get(dir)?.close();
    this.watchers.delete(dir);
  }

  /** Something at `path` (at `level` below the root) was created, renamed into place, changed or removed. */
  private touched(path: string, level: number) {
    if (this.closed || notAnObject(path.slice(path.lastIndexOf(sep) + 1))) return;
    clearTimeout(this.pending.get(path));
    this.pending.set(
      path,
      setTimeout(() => {
        this.pending.delete(path);
        this.track(this.settle(path, level));
      }, this.o.quietMs ?? 15),
    );
  }

  private track(p: Promise<unknown>) {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async settle(path: string, level: number) {
    if (this.closed) return;
    const s = await stat(path).catch(() => undefined);
    if (!s) {
      this.unwatch(path); // removed: a folder's watch goes with it
      this.announced.delete(path);
      return;
    }
    if (s.isDirectory()) {
      if (level <= (this.o.depth ?? 3)) await this.watchFolder(path, level);
      return;
    }
    if (!s.isFile()) return;
    const signature = `${s.ino}-${s.size}-${s.mtimeMs}`;
    if (this.announced.get(path) === signature) return;
    this.announced.set(path, signature);
    const key = relative(this.o.bucketPath, path).split(sep).join('/');
    const event = objectCreatedEvent(
      this.o.bucket,
      key,
      { size: s.size, etag: `${s.size}-${Math.floor(s.mtimeMs)}`, sequencer: Math.round(s.mtimeMs * 1000).toString(16).toUpperCase() },
      new Date(),
    );
    this.emitted++;
    // As on AWS, a rule target's trouble is the target's: the writer never learns of it, nor waits for it.
    void this.o.publisher.publish([event]).catch((e: Error) => logger.warn('object event not delivered', { key, error: `${e.name}: ${e.message}` }));
  }

  /** Stops watching; waits for the looks under way (not for what their events cause). */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
    for (const dir of [...this.watchers.keys()]) this.unwatch(dir);
    await Promise.all([...this.inFlight]);
  }
}
