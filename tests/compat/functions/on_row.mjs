// Event function for functions_realtime.mjs: triggered by a row create, prints the $id of the
// event payload (from RTCLI_EVENT_PAYLOAD and from stdin, which carries the same payload).
import { readFileSync } from 'node:fs';

const payload = JSON.parse(process.env.RTCLI_EVENT_PAYLOAD);
const stdin = readFileSync(0, 'utf8');
process.stdout.write(JSON.stringify({
  rowId: payload.$id,
  stdinRowId: stdin ? JSON.parse(stdin).$id : null,
  event: process.env.RTCLI_EVENT,
  trigger: process.env.RTCLI_TRIGGER,
}));
