import type { Payment } from './provider';

/** The hosted payment page: plain HTML that works in any browser, without scripts. */

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** `1234` EUR → `12.34 EUR`, with the currency's own number of decimals (JPY has none). */
export function formatAmount(amount: number, currency: string): string {
  let digits = 2;
  try {
    digits =
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ??
      2;
  } catch {
    // an unknown code: two decimals
  }
  if (digits === 0) return `${amount} ${currency}`;
  const s = String(amount).padStart(digits + 1, '0');
  return `${s.slice(0, -digits)}.${s.slice(-digits)} ${currency}`;
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}
.card{border:1px solid #ccc;border-radius:8px;padding:1.5rem}.amount{font-size:2rem;font-weight:600;margin:.5rem 0}
.muted{color:#666;font-size:.9rem}.buttons{display:flex;gap:.75rem;margin-top:1.5rem}
button{flex:1;font-size:1rem;padding:.75rem;border-radius:6px;border:1px solid #888;cursor:pointer}
button[value=pay]{background:#1a7f37;color:#fff;border-color:#1a7f37}.status{font-weight:600}`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<div class="card">
${body}
</div>
<p class="muted">Sandbox card provider: no real money moves.</p>
</body>
</html>
`;
}

/** A pending payment gets the Pay and Decline buttons; a final one its outcome. */
export function paymentPage(p: Payment): string {
  const head = `<h1>Sandbox payment</h1>
<div class="amount" data-amount="${p.amount}" data-currency="${escapeHtml(p.currency)}">${escapeHtml(formatAmount(p.amount, p.currency))}</div>
<p>Reference: <span class="reference">${escapeHtml(p.reference)}</span></p>
<p class="muted">Payment ${escapeHtml(p.id)}</p>`;
  if (p.status !== 'PENDING') return layout('Sandbox payment', `${head}\n${outcome(p)}`);
  // No action attribute: the form posts to this very URL, whatever prefix the public URL has.
  const form = `<form method="post">
<div class="buttons">
<button type="submit" name="action" value="pay">Pay</button>
<button type="submit" name="action" value="decline">Decline</button>
</div>
</form>`;
  return layout('Sandbox payment', `${head}\n${form}`);
}

/**
 * The return URL with `payment=<provider id>&status=<status>&reference=<the shop's reference>`
 * added to its query (the shop's reference is its own payment id); undefined without one. Works
 * for web pages and app links (myapp://…) alike.
 */
export function returnLocation(p: Payment): string | undefined {
  if (!p.returnUrl) return undefined;
  const url = new URL(p.returnUrl);
  url.searchParams.set('payment', p.id);
  url.searchParams.set('status', p.status);
  url.searchParams.set('reference', p.reference);
  return url.toString();
}

function outcome(p: Payment): string {
  const location = returnLocation(p);
  const back = location ? `\n<p><a href="${escapeHtml(location)}">Back to the shop</a></p>` : '';
  return `<p>Status: <span class="status">${escapeHtml(p.status)}</span></p>${back}`;
}

/** What a browser sees after paying when the payment has no return URL. */
export function resultPage(p: Payment): string {
  return paymentPage(p);
}

export function errorPage(status: number, message: string): string {
  return layout(`Error ${status}`, `<h1>Error ${status}</h1>\n<p>${escapeHtml(message)}</p>`);
}
