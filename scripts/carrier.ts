import { loadConfig } from '../src/config';
import {
  CARRIER_STATUSES,
  carrierEvent,
  postCarrierEvent,
  postJourney,
  type CarrierStatus,
} from '../src/sandbox/carrier';

const USAGE = `Sends signed carrier events to the server's POST /webhooks/logistics.

  npm run carrier -- --carrier DHL --tracking 1Z999 --status IN_TRANSIT [--location Leipzig] [--description ..] [--at ISO] [--id EVENT_ID]
  npm run carrier -- --carrier DHL --tracking 1Z999 --journey      (LABEL_CREATED, IN_TRANSIT, OUT_FOR_DELIVERY, DELIVERED)

  --url URL    the server (default http://127.0.0.1:$PORT, PORT default 4000)
The secret is LOGISTICS_WEBHOOK_SECRET, or the one the embedded default keeps in $DATA_DIR/secrets.json.
Statuses: ${CARRIER_STATUSES.join(', ')}`;

function args(argv: string[]): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out.set(a.slice(2), true);
    else out.set(a.slice(2), argv[++i]);
  }
  return out;
}

async function main(): Promise<number> {
  const a = args(process.argv.slice(2));
  if (a.has('help')) {
    console.log(USAGE);
    return 0;
  }
  const value = (name: string): string | undefined => {
    const v = a.get(name);
    if (v === true) throw new Error(`--${name} needs a value`);
    return v;
  };
  const config = loadConfig();
  const url = value('url') ?? `http://127.0.0.1:${config.port}`;
  const carrier = value('carrier');
  const trackingNumber = value('tracking');
  if (!carrier || !trackingNumber)
    throw new Error('--carrier and --tracking are required (--help for usage)');
  const secret = config.logisticsWebhookSecret;
  const location = value('location');

  if (a.has('journey')) {
    const results = await postJourney(url, { carrier, trackingNumber, location }, { secret });
    for (const { event, result } of results)
      console.log(`${event.status} ${event.occurredAt} -> ${result.status} ${JSON.stringify(result.body)}`);
    return results.every((r) => r.result.status < 300) ? 0 : 1;
  }

  const status = value('status') as CarrierStatus | undefined;
  if (!status || !CARRIER_STATUSES.includes(status))
    throw new Error(`--status must be one of ${CARRIER_STATUSES.join(', ')}`);
  const at = value('at');
  if (at !== undefined && Number.isNaN(Date.parse(at)))
    throw new Error('--at must be an ISO time such as 2026-12-01T10:00:00Z');
  const event = carrierEvent({
    carrier,
    trackingNumber,
    status,
    location,
    description: value('description'),
    id: value('id'),
    occurredAt: at === undefined ? undefined : new Date(at).toISOString(),
  });
  const result = await postCarrierEvent(url, event, { secret });
  console.log(`${event.id} ${event.status} -> ${result.status} ${JSON.stringify(result.body)}`);
  return result.status < 300 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(`carrier: ${e.message}`);
    process.exit(2);
  },
);
