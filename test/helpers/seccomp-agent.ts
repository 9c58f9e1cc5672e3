// A seccomp agent for tests of SCMP_ACT_NOTIFY (seccomp-agent.py): it answers every notification with
// EXDEV and keeps each state message it was sent, in order.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** runtime-spec's containerProcessState, as a runtime sends it with a listener fd. */
export interface ContainerProcessState {
  ociVersion: string;
  fds: string[];
  pid: number;
  metadata: string;
  state: { ociVersion: string; id: string; status: string; pid: number; bundle: string; annotations?: Record<string, string> };
}

export interface SeccompAgent {
  /** The listenerPath to put in the profile. */
  sock: string;
  /** The state messages received so far (the runtime's containerProcessState), in order. */
  messages(): ContainerProcessState[];
  /** Kills the agent (by its pid) and removes its directory. */
  stop(): void;
}

/** Starts the agent and resolves once it listens. */
export async function startSeccompAgent(): Promise<SeccompAgent> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-agent-'));
  const sock = path.join(dir, 'agent.sock');
  const agent = spawn('python3', [path.join(__dirname, 'seccomp-agent.py'), sock, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = () => {
    agent.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  let agentErr = '';
  agent.stderr.on('data', (d) => (agentErr += d));
  try {
    await new Promise<void>((resolve, reject) => {
      agent.stdout.once('data', () => resolve());
      agent.once('exit', (code) => reject(new Error(`seccomp agent exited ${code}: ${agentErr}`)));
    });
  } catch (e) {
    stop();
    throw e;
  }
  const messages = () => fs.readdirSync(dir).filter((f) => /^state-\d+\.json$/.test(f))
    .sort((a, b) => parseInt(a.slice(6), 10) - parseInt(b.slice(6), 10))
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
  return { sock, messages, stop };
}
