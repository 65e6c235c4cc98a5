/**
 * A private single-node KRaft Kafka broker for tests that must stop, kill or restart a broker, or that need a listener
 * the shared broker does not have (SASL): the shared broker on 127.0.0.1:19092 is used by other test files at the same
 * time and is never touched. It runs from the jars the service script installed (`scripts/services/kafka.sh`,
 * `.services/kafka/lib`) with the service's own `server.properties` and `log4j2.properties` templates, on free
 * loopback ports, with its data under a temp dir.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const servicesDir = process.env.TRIBUTARY_SERVICES_DIR ?? join(root, '.services');
const templates = join(root, 'scripts', 'services', 'kafka');

/** Options of {@link startPrivateBroker}. */
export interface PrivateBrokerOptions {
  /** How long `start` waits for the broker to answer a metadata request. Default 90 s (2 shared cores). */
  readonly readyTimeoutMs?: number;
  /** JVM heap limit. Default `-Xmx384m`. */
  readonly maxHeap?: string;
  /**
   * Adds a SASL_PLAINTEXT listener on a further free port (see {@link PrivateBroker.saslBrokers}). The PLAINTEXT
   * listener stays (probes, inter-broker, test fixtures). Default: none.
   */
  readonly sasl?: PrivateBrokerSaslOptions;
}

/** A user of the private broker's SASL listener. */
export interface PrivateBrokerUser {
  /** Letters, digits, `.`, `_`, `-` (it goes into a JAAS config and a `--add-scram` argument unquoted). */
  readonly username: string;
  /** Same alphabet as `username`. */
  readonly password: string;
}

/** The SASL listener of {@link startPrivateBroker}. */
export interface PrivateBrokerSaslOptions {
  /**
   * Users accepted with PLAIN (listed in the listener's PlainLoginModule JAAS config), SCRAM-SHA-256 and SCRAM-SHA-512
   * (credentials written into the cluster metadata by `kafka-storage format --add-scram`).
   */
  readonly users: readonly PrivateBrokerUser[];
  /**
   * Also enables OAUTHBEARER with Kafka's built-in unsecured validator: any unsigned JWS (`alg: none`) with `sub`,
   * `iat` and a future `exp` is accepted, the principal being `sub` (see {@link unsecuredJws}). Default `false`.
   */
  readonly oauthBearer?: boolean;
}

/** A private broker; see {@link startPrivateBroker}. */
export interface PrivateBroker {
  /** `['127.0.0.1:<port>']`. */
  readonly brokers: readonly string[];
  readonly port: number;
  readonly controllerPort: number;
  /** `['127.0.0.1:<saslPort>']`, the SASL_PLAINTEXT listener; `undefined` without the `sasl` option. */
  readonly saslBrokers: readonly string[] | undefined;

  /** Temp dir holding the config, the data (`data/`) and the logs (`server.log`, `kafka.out`). */
  readonly dir: string;
  /** Pid of the running JVM, `undefined` when it is not running. */
  readonly pid: number | undefined;
  /** Launches the broker (same ports, same data) and waits until it answers metadata. */
  start(): Promise<void>;
  /** SIGTERM (controlled shutdown) and waits for the exit; SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
  /** SIGKILL and waits for the exit: no controlled shutdown, no flush. */
  kill(): Promise<void>;
  /** `kill()` (or `stop()` with `graceful`), waits `pauseMs`, then `start()`. Resolves once it answers again. */
  restart(options?: { pauseMs?: number; graceful?: boolean }): Promise<void>;
  /** Kills the broker if it runs and deletes its temp dir. */
  dispose(): Promise<void>;
  /** The last `lines` lines of its server.log and kafka.out, for failure messages. */
  logTail(lines?: number): string;
}

/**
 * Loopback ports free now, drawn below Linux's ephemeral range (32768+): while the broker is down between a kill and its
 * restart, an outgoing connection could otherwise be given its port and the restart fail to bind.
 */
async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (ports.includes(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) ports.push(port);
  }
  return ports;
}

const saslName = /^[A-Za-z0-9._-]+$/;

/** The listener lines appended to the template when a SASL listener is asked for (later keys override earlier ones). */
function saslListenerConfig(sasl: PrivateBrokerSaslOptions, port: number, controllerPort: number, saslPort: number): string {
  for (const { username, password } of sasl.users) {
    if (!saslName.test(username) || !saslName.test(password)) throw new Error(`private broker SASL user ${JSON.stringify(username)}: name and password must match ${saslName}`);
  }
  const mechanisms = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', ...(sasl.oauthBearer === true ? ['OAUTHBEARER'] : [])];
  const plainUsers = sasl.users.map(({ username, password }) => `user_${username}="${password}"`).join(' ');
  return [
    '',
    '# Private test broker: a SASL_PLAINTEXT listener for client authentication tests. Controller and inter-broker',
    '# traffic stay on the PLAINTEXT loopback listeners. No authorizer: every authenticated principal may do anything.',
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort},SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port},SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT',
    `listener.name.sasl_plaintext.sasl.enabled.mechanisms=${mechanisms.join(',')}`,
    `listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`,
    'listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    // Without a sasl.server.callback.handler.class the broker validates OAUTHBEARER tokens with
    // OAuthBearerUnsecuredValidatorCallbackHandler (unsigned JWS); the login module options only matter when the
    // broker itself is a client on this listener, which it never is here.
    ...(sasl.oauthBearer === true
      ? ['listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="broker";']
      : []),
    '',
  ].join('\n');
}

/**
 * An unsigned JWS (`alg: none`) as the broker's unsecured OAUTHBEARER validator accepts it: principal `sub`, issued now,
 * expiring after `lifetimeMs`.
 *
 * @example
 * ```ts
 * const source = kafkaSource({ brokers: broker.saslBrokers!, sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: unsecuredJws('alice') }) }, ... });
 * ```
 */
export function unsecuredJws(sub: string, lifetimeMs = 3_600_000): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Date.now() / 1_000;
  return `${part({ alg: 'none' })}.${part({ sub, iat: Math.floor(now), exp: Math.floor(now + lifetimeMs / 1_000) })}.`;
}

const java = process.env.JAVA_HOME === undefined ? 'java' : join(process.env.JAVA_HOME, 'bin', 'java');

function runJava(args: readonly string[], logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = openSync(logFile, 'a');
    const child = spawn(java, args, { stdio: ['ignore', out, out] });
    closeSync(out);
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`java ${args.at(-1) ?? ''} exited with ${code}; see ${logFile}:\n${tail(logFile, 20)}`))));
  });
}

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return `(${file} does not exist)`;
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

/** JVMs this module started and has not seen exit: killed when the test process exits, so none outlives a run. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Formats storage for a new single-node KRaft cluster in a temp dir and launches it on free loopback ports; resolves
 * once it answers a metadata request. Fails (never skips) when the Kafka jars are not installed.
 *
 * @example
 * ```ts
 * const broker = await startPrivateBroker();
 * try {
 *   await broker.restart({ pauseMs: 2_000 });
 * } finally {
 *   await broker.dispose();
 * }
 * ```
 */
export async function startPrivateBroker(options: PrivateBrokerOptions = {}): Promise<PrivateBroker> {
  const lib = join(servicesDir, 'kafka', 'lib');
  if (!existsSync(lib)) throw new Error(`Kafka jars not found in ${lib}; run \`bash scripts/services.sh up kafka\` first`);
  const classpath = `${lib}/*`;
  const readyTimeoutMs = options.readyTimeoutMs ?? 90_000;
  const dir = mkdtempSync(join(tmpdir(), 'tributary-private-kafka-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const [port, controllerPort, saslPort] = (await freePorts(options.sasl === undefined ? 2 : 3)) as [number, number, number | undefined];
  const config = join(dir, 'server.properties');
  writeFileSync(
    config,
    readFileSync(join(templates, 'server.properties'), 'utf8')
      .replaceAll('@PORT@', String(port))
      .replaceAll('@CONTROLLER_PORT@', String(controllerPort))
      .replaceAll('@DATA_DIR@', dataDir) +
      (options.sasl === undefined || saslPort === undefined ? '' : saslListenerConfig(options.sasl, port, controllerPort, saslPort)) +
      [
        '',
        '# Private test broker (test/integration/private-broker.ts): after a SIGKILL the restarted broker cannot register',
        '# until the controller fenced its previous incarnation, which takes broker.session.timeout.ms (default 9 s).',
        'broker.heartbeat.interval.ms=1000',
        'broker.session.timeout.ms=3000',
        '',
      ].join('\n'),
  );
  const logging = [`-Dlog4j2.configurationFile=${join(templates, 'log4j2.properties')}`, `-Dkafka.logs.dir=${dir}`];
  const out = join(dir, 'kafka.out');
  const brokers = [`127.0.0.1:${port}`];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  // Any fixed id works: the cluster lives only in this temp dir (22 base64url characters, like StorageTool's).
  const clusterId = randomBytes(16).toString('base64url');
  // As scripts/services/kafka.sh formats the shared broker (static quorum from controller.quorum.voters).
  // SCRAM credentials go into the bootstrap metadata records, so they exist before the first client connects.
  const scram = (options.sasl?.users ?? []).flatMap(({ username, password }) =>
    ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((mechanism) => ['--add-scram', `${mechanism}=[name=${username},password=${password}]`]),
  );
  await runJava([...logging, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', config, ...scram], out);

  const logTail = (lines = 30): string => `--- server.log ---\n${tail(join(dir, 'server.log'), lines)}\n--- kafka.out ---\n${tail(out, lines)}`;

  const answersMetadata = async (): Promise<boolean> => {
    const admin = new Kafka({ clientId: 'private-broker-probe', brokers, logLevel: logLevel.NOTHING, connectionTimeout: 1_000, requestTimeout: 3_000, retry: { retries: 0 } }).admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      return cluster.brokers.length > 0 && cluster.controller !== null;
    } catch {
      return false;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  };

  const broker: PrivateBroker = {
    brokers,
    port,
    controllerPort,
    saslBrokers: saslPort === undefined ? undefined : [`127.0.0.1:${saslPort}`],
    dir,
    get pid() {
      return child?.pid;
    },
    async start() {
      if (child !== undefined) throw new Error(`private broker ${brokers[0]} is already running (pid ${child.pid})`);
      const stdout = openSync(out, 'a');
      const launched = spawn(
        java,
        [
          '-Xms64m',
          `-Xmx${options.maxHeap ?? '384m'}`,
          // Short-lived test broker on shared cores: cheap GC and quick JIT warm-up beat peak throughput.
          '-XX:+UseSerialGC',
          '-XX:TieredStopAtLevel=1',
          '-Djava.awt.headless=true',
          ...logging,
          '-cp',
          classpath,
          'kafka.Kafka',
          config,
        ],
        { stdio: ['ignore', stdout, stdout] },
      );
      closeSync(stdout);
      child = launched;
      running.add(launched);
      let exitCode: number | string | null | undefined;
      exited = new Promise<void>((resolve) => {
        launched.once('exit', (code, signal) => {
          exitCode = code ?? signal;
          running.delete(launched);
          if (child === launched) child = undefined;
          resolve();
        });
      });
      const deadline = Date.now() + readyTimeoutMs;
      for (;;) {
        if (exitCode !== undefined) throw new Error(`private broker ${brokers[0]} exited during startup (${String(exitCode)})\n${logTail()}`);
        if (await answersMetadata()) return;
        if (Date.now() > deadline) throw new Error(`private broker ${brokers[0]} did not answer metadata within ${readyTimeoutMs} ms\n${logTail()}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    async stop(timeoutMs = 30_000) {
      const current = child;
      if (current === undefined) return;
      current.kill('SIGTERM');
      const timer = setTimeout(() => current.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      const current = child;
      if (current === undefined) return;
      current.kill('SIGKILL');
      await exited;
    },
    async restart({ pauseMs = 0, graceful = false } = {}) {
      await (graceful ? broker.stop() : broker.kill());
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      await broker.start();
    },
    async dispose() {
      await broker.kill();
      rmSync(dir, { recursive: true, force: true });
    },
    logTail,
  };

  try {
    await broker.start();
  } catch (error) {
    await broker.dispose();
    throw error;
  }
  return broker;
}
