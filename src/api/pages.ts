/**
 * The browser page that sends the customer to the ACS or the provider: an
 * auto-submitting POST form with a submit button for browsers without
 * JavaScript, as the Sogenactif documentation shows.
 */
import type { PaymentView } from '../orchestrator.ts';
import { escapeHtml } from '../platform/html.ts';

function hidden(name: string, value: string): string {
  return `  <input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`;
}

/**
 * 3-D Secure v1 shape (PaReq, TermUrl, MD) when the enrolment gave a PaReq,
 * otherwise the v2 and provider shape (message_version, redirection_data).
 * MD is the payment id: printable ASCII, far below 1024 bytes, no card data.
 */
export function authenticationPage(payment: PaymentView, termUrl: string): string {
  const redirection = payment.redirection ?? {};
  const fields = redirection.paReq
    ? [hidden('PaReq', redirection.paReq), hidden('TermUrl', termUrl), hidden('MD', payment.id)]
    : [
        hidden('message_version', redirection.messageVersion ?? ''),
        hidden('redirection_data', redirection.redirectionData ?? ''),
      ];
  return `<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>Payment authentication</title>
</head>
<body onload="document.downloadForm.submit();">
<form name="downloadForm" action="${escapeHtml(redirection.url ?? '')}" method="POST">
  <noscript>
    <h1>Processing your 3-D Secure Transaction</h1>
    <h2>JavaScript is currently disabled or is not supported by your browser.</h2>
    <h3>Please click Submit to continue the processing of your 3-D Secure transaction.</h3>
    <input type="submit" value="Submit">
  </noscript>
${fields.join('\n')}
</form>
</body>
</html>
`;
}
