// Task events to containerd: Events/Forward on $TTRPC_ADDRESS, one at a time and in order (TaskExit must never
// overtake TaskStart). A failed send is retried after 1, 2, 3, 4, 5 s, each time on a new connection (the one it
// failed on is closed), then dropped (as the runc shim does: containerd's clients re-Wait after a restart rather
// than rely on events).
import { Client, stub, type Stub } from 'ttrpc-ts';
import type { Logger } from '@tsrunc/common';
import { packAny, protocol, timestamp, type Envelope, type EventsMethods, type Timestamp } from './protos';

export type Topic =
  | '/tasks/create'
  | '/tasks/start'
  | '/tasks/exit'
  | '/tasks/delete'
  | '/tasks/exec-added'
  | '/tasks/exec-started'
  | '/tasks/oom'
  | '/tasks/paused'
  | '/tasks/resumed';

const TYPES: Record<Topic, string> = {
  '/tasks/create': 'containerd.events.TaskCreate',
  '/tasks/start': 'containerd.events.TaskStart',
  '/tasks/exit': 'containerd.events.TaskExit',
  '/tasks/delete': 'containerd.events.TaskDelete',
  '/tasks/exec-added': 'containerd.events.TaskExecAdded',
  '/tasks/exec-started': 'containerd.events.TaskExecStarted',
  '/tasks/oom': 'containerd.events.TaskOOM',
  '/tasks/paused': 'containerd.events.TaskPaused',
  '/tasks/resumed': 'containerd.events.TaskResumed',
};

const CALL_TIMEOUT_MS = 5000;
const RETRY_DELAYS_MS = [1000, 2000, 3000, 4000, 5000];

export interface EventSink {
  publish(topic: Topic, event: object): void;
}

export class Publisher implements EventSink {
  private tail: Promise<void> = Promise.resolve();
  private client: Promise<Stub<EventsMethods>> | undefined;
  private connection: Client | undefined;

  constructor(
    /** containerd's ttrpc socket (a plain path). */
    private readonly address: string,
    private readonly namespace: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Queues the event (stamped now); it is sent after every event queued before it, and never before the replies of
   * the turn that published it (setImmediate): a Create or Start is answered without waiting for its event's encoding
   * and write, nor for containerd to read it (the runc shim forwards its events from a queue too).
   */
  publish(topic: Topic, event: object): void {
    const at = timestamp();
    this.tail = this.tail.then(() => new Promise((resolve) => setImmediate(resolve))).then(() => this.send(topic, at, event));
  }

  /** Sends what is queued (each event with its retries), then closes the connection. */
  async close(): Promise<void> {
    await this.tail;
    this.connection?.close();
  }

  private async send(topic: Topic, at: Timestamp, event: object): Promise<void> {
    let envelope: Envelope;
    try {
      envelope = { timestamp: at, namespace: this.namespace, topic, event: packAny(TYPES[topic], event) };
    } catch (err) {
      this.logger.error(`dropping event ${topic}: ${(err as Error).message}`);
      return;
    }
    for (let attempt = 0; ; attempt++) {
      try {
        const events = await this.connect();
        await events.Forward({ envelope }, { timeout: CALL_TIMEOUT_MS, metadata: { 'containerd-namespace-ttrpc': this.namespace } });
        return;
      } catch (err) {
        // The next attempt connects anew: the connection this one failed on (a timeout, an error answered) is closed,
        // not left open beside it for the daemon's lifetime.
        this.client = undefined;
        this.connection?.close();
        this.connection = undefined;
        if (attempt >= RETRY_DELAYS_MS.length) {
          this.logger.error(`dropping event ${topic} after ${attempt + 1} attempts: ${(err as Error).message}`);
          return;
        }
        this.logger.warn(`event ${topic}: ${(err as Error).message}; retrying`);
        await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[attempt]));
      }
    }
  }

  private connect(): Promise<Stub<EventsMethods>> {
    if (!this.client) {
      const connecting = Client.connect(this.address).then((c) => {
        c.on('close', () => {
          if (this.client === connecting) this.client = undefined;
        });
        this.connection = c;
        return stub(c, protocol().events);
      });
      this.client = connecting;
    }
    return this.client;
  }
}
