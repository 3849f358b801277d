/**
 * `cjmm worker --queue redis://host:port`: a distributed hyperopt worker. Takes backtest epochs from the
 * queue (BullMQ) and runs them on a local worker-thread pool until stopped (SIGINT/SIGTERM: finishes the
 * epochs it holds, then exits). The data path named in each job must be readable here (shared filesystem or
 * a copy at the same path).
 */
import { type Command, Option } from 'commander';
import { defaultJobs } from '../../optimize/pool.ts';
import { QUEUE_NAME, QueueError, startFleetWorker } from '../../optimize/queue.ts';
import { TAPE_MODES, type TapeModeOption } from '../../optimize/tape-source.ts';
import { CliError } from '../errors.ts';
import { intOption } from '../options.ts';

interface WorkerFlags {
  queue: string;
  jobs?: string;
  lockDuration: string;
  tapeMode: TapeModeOption;
  quiet?: boolean;
}

async function run(flags: WorkerFlags): Promise<void> {
  const threads = flags.jobs !== undefined ? intOption('-j/--jobs', flags.jobs, 1) : defaultJobs();
  const lockDurationMs = intOption('--lock-duration', flags.lockDuration, 1000);
  const tapeMode = flags.tapeMode;
  const log = flags.quiet
    ? undefined
    : (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  let w: Awaited<ReturnType<typeof startFleetWorker>>;
  try {
    w = await startFleetWorker(flags.queue, { threads, lockDurationMs, tapeMode, log });
  } catch (e) {
    if (e instanceof QueueError) throw new CliError(e.message);
    throw e;
  }
  log?.(
    `worker on ${flags.queue} (queue ${QUEUE_NAME}), ${threads} thread${threads === 1 ? '' : 's'}; Ctrl-C stops`,
  );
  await new Promise<void>((res) => {
    const stop = () => {
      log?.('stopping: finishing the epochs in hand …');
      res();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await w.close();
  log?.(`stopped after ${w.done()} epochs`);
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('A distributed hyperopt worker: runs backtest epochs from a Redis queue (BullMQ)')
    .requiredOption(
      '--queue <redis://host:port>',
      'the Redis server the coordinator (cjmm hyperopt --queue) uses',
    )
    .option('-j, --jobs <n>', 'epochs run at once on this machine (default: cores)')
    .option(
      '--lock-duration <ms>',
      'an epoch whose worker stops renewing its lock for this long is retried on another worker',
      '30000',
    )
    .addOption(
      new Option(
        '--tape-mode <mode>',
        'columns | objects | auto: how the threads replay the data (as cjmm hyperopt --tape-mode)',
      )
        .choices(TAPE_MODES)
        .default('columns'),
    )
    .option('--quiet', 'no log lines on stderr')
    .action(async (opts: WorkerFlags) => {
      await run(opts);
    });
}
