// Headless Chromium (Debian's `chromium` package) driven over the DevTools protocol with Node's own WebSocket: open a
// page, wait for text to render, click, read the page's text, take a PNG. Enough to look at a web UI the way a person
// would, without a browser-automation dependency.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

interface Pending {
  resolve: (v: any) => void;
  reject: (e: Error) => void;
}

export class Browser {
  private ws!: WebSocket;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private session?: string;

  private constructor(
    private readonly proc: ChildProcess,
    private readonly profile: string,
  ) {}

  static async launch(executable: string, size = { width: 1600, height: 1000 }): Promise<Browser> {
    const profile = mkdtempSync(join(tmpdir(), 'sentinel-chromium-'));
    const proc = spawn(
      executable,
      [
        '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check',
        '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0', `--user-data-dir=${profile}`,
        `--window-size=${size.width},${size.height}`, 'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
    );
    const wsUrl = await new Promise<string>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`chromium did not start: ${err.slice(-500)}`)), 60_000);
      proc.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      proc.once('exit', (code) => reject(new Error(`chromium exited (${code}): ${err.slice(-500)}`)));
    });
    const b = new Browser(proc, profile);
    await b.connect(wsUrl);
    const { targetId } = await b.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await b.send('Target.attachToTarget', { targetId, flatten: true });
    b.session = sessionId;
    await b.send('Page.enable', {}, sessionId);
    await b.send('Emulation.setDeviceMetricsOverride', { width: size.width, height: size.height, deviceScaleFactor: 1, mobile: false }, sessionId);
    return b;
  }

  private connect(url: string) {
    return new Promise<void>((resolve, reject) => {
      this.ws = new WebSocket(url);
      this.ws.onopen = () => resolve();
      this.ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
      this.ws.onmessage = (ev) => {
        const msg = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: { message: string } };
        if (msg.id === undefined) return;
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.error) p.reject(new Error(msg.error.message));
        else p.resolve(msg.result);
      };
    });
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId = this.session): Promise<any> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  async evaluate<T = unknown>(expression: string): Promise<T> {
    const r = await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) throw new Error(`page script failed: ${r.exceptionDetails.text} ${r.exceptionDetails.exception?.description ?? ''}`);
    return r.result.value as T;
  }

  async goto(url: string) {
    await this.send('Page.navigate', { url });
  }

  /** The page's visible text. */
  text(): Promise<string> {
    return this.evaluate<string>('document.body ? document.body.innerText : ""');
  }

  /** Waits until every string appears in the page's text; returns the text. */
  async waitForText(needles: string[], timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let text = '';
    for (;;) {
      text = await this.text().catch(() => '');
      if (needles.every((n) => text.includes(n))) return text;
      if (Date.now() > deadline) throw new Error(`page never showed ${JSON.stringify(needles.filter((n) => !text.includes(n)))}; it shows: ${text.slice(0, 1500)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  async screenshot(): Promise<Buffer> {
    const r = await this.send('Page.captureScreenshot', { format: 'png' });
    return Buffer.from(r.data as string, 'base64');
  }

  async close() {
    try {
      this.ws.close();
    } catch {
      /* closed */
    }
    try {
      if (this.proc.pid) process.kill(-this.proc.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    await new Promise((r) => setTimeout(r, 300));
    rmSync(this.profile, { recursive: true, force: true });
  }
}
