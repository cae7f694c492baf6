// WebhookPort: a Slack-compatible incoming webhook, `POST {"text": …}` as JSON, with a timeout. The URL is a
// credential: it never appears in an error or a log line (errors say the status or the network failure's code).
import type { WebhookPort } from '../../core/ports.js';

export class WebhookError extends Error {
  override name = 'WebhookError';
}

export class HttpWebhook implements WebhookPort {
  constructor(private readonly o: { timeoutMs?: number } = {}) {}

  async post(url: string, body: { text: string }): Promise<void> {
    const timeoutMs = this.o.timeoutMs ?? 5000;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: body.text }),
        // A redirect would send the body elsewhere: refuse it.
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      if (err.name === 'TimeoutError') throw new WebhookError(`webhook POST timed out after ${timeoutMs} ms`);
      throw new WebhookError(`webhook POST failed (${err.cause?.code ?? err.name})`);
    }
    await res.body?.cancel().catch(() => undefined);
    if (res.status < 200 || res.status >= 300) throw new WebhookError(`webhook POST answered HTTP ${res.status}`);
  }
}
