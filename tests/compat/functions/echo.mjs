// Function handler for functions_realtime.mjs (run by `rtcli serve` as `node echo.mjs`): echoes
// its request body (stdin) and the request the server describes in its environment, as JSON.
import { readFileSync } from 'node:fs';

const body = readFileSync(0, 'utf8');
process.stdout.write(JSON.stringify({
  body,
  path: process.env.RTCLI_PATH,
  method: process.env.RTCLI_METHOD,
  trigger: process.env.RTCLI_TRIGGER,
  userId: process.env.RTCLI_USER_ID,
  functionId: process.env.RTCLI_FUNCTION_ID,
  executionId: process.env.RTCLI_EXECUTION_ID,
}));
process.stderr.write('echo ran\n');
