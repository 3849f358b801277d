/**
 * `cjmm status`: the state of a running cjmm over its API (status, markets, open orders), or — when no
 * process answers there — what the journal last recorded. Exit 0 either way; 1 when a cjmm answered but
 * refused the token.
 */
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { readApiToken, TokenError } from '../../api/auth.ts';
import { ApiRefused, ApiUnreachable, fetchApiStatus, formatApiStatus } from '../../api/client.ts';
import { DEFAULT_API_HOST, DEFAULT_API_PORT, loadServiceConfig } from '../../service/config.ts';
import { openExistingJournal } from '../../trading/journal.ts';
import { formatStatus } from '../../trading/journal-report.ts';
import { CliError } from '../errors.ts';

const DEFAULT_JOURNAL = './.cjmm/journal.sqlite';

export interface StatusReadOptions {
  url: string;
  tokenFile?: string;
  journal: string;
  json?: boolean;
  /** Print the journal when nobody answers at `url` (default true). */
  fallback?: boolean;
}

/** Prints the running process's status, or the journal's; throws CliError on a refusal. */
export async function readStatusOverApi(o: StatusReadOptions): Promise<void> {
  let token: string | undefined;
  try {
    token = readApiToken(o.tokenFile ?? join(dirname(o.journal), 'api-token'));
  } catch (err) {
    if (err instanceof TokenError) throw new CliError(err.message);
    throw err;
  }
  try {
    const a = await fetchApiStatus(o.url, token);
    console.log(o.json ? JSON.stringify({ source: 'api', ...a }, null, 2) : formatApiStatus(a));
    return;
  } catch (err) {
    if (err instanceof ApiRefused) throw new CliError(err.message, 1);
    if (!(err instanceof ApiUnreachable) || o.fallback === false) throw err;
    if (!o.json) console.log(`${err.message}; from the journal:`);
  }
  let j: ReturnType<typeof openExistingJournal>;
  try {
    j = openExistingJournal(o.journal);
  } catch (err) {
    throw new CliError(`no running cjmm at ${o.url}, and ${(err as Error).message}`);
  }
  try {
    const s = j.status();
    console.log(o.json ? JSON.stringify({ source: 'journal', ...s }, null, 2) : formatStatus(s));
  } finally {
    j.close();
  }
}

export function register(program: Command): void {
  program
    .command('status')
    .description('a running cjmm over its API (status, markets, orders), else the journal')
    .option(
      '--url <url>',
      `API of the running process (default from --config, else http://${DEFAULT_API_HOST}:${DEFAULT_API_PORT})`,
    )
    .option('--config <file>', 'config whose api host/port and journal to use')
    .option(
      '--token-file <file>',
      'API token file (default: CJMM_API_TOKEN, else api-token beside the journal)',
    )
    .option('--journal <path>', `journal to read when no process answers (default ${DEFAULT_JOURNAL})`)
    .option('--json', 'print JSON ({source: "api" | "journal", ...})')
    .action(
      async (flags: {
        url?: string;
        config?: string;
        tokenFile?: string;
        journal?: string;
        json?: boolean;
      }) => {
        let url = flags.url;
        let journal = flags.journal;
        let tokenFile = flags.tokenFile;
        if (flags.config) {
          let c: ReturnType<typeof loadServiceConfig>;
          try {
            c = loadServiceConfig(flags.config);
          } catch (err) {
            throw new CliError((err as Error).message);
          }
          const host = c.service.api.host === '0.0.0.0' ? '127.0.0.1' : c.service.api.host;
          url ??= `http://${host.includes(':') ? `[${host}]` : host}:${c.service.api.port}`;
          journal ??= c.trading.journal;
          tokenFile ??= c.service.api.tokenFile;
        }
        url ??= `http://${DEFAULT_API_HOST}:${DEFAULT_API_PORT}`;
        try {
          new URL(url);
        } catch {
          throw new CliError(`--url is not a URL: '${url}'`);
        }
        await readStatusOverApi({ url, tokenFile, journal: journal ?? DEFAULT_JOURNAL, json: flags.json });
      },
    );
}
