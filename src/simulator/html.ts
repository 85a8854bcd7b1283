/**
 * Every HTML page the simulator serves. Pages work without JavaScript: the
 * redirection pages auto-submit when scripts run and show a Submit button in
 * <noscript> otherwise, exactly as the seed's redirection example does.
 */
import { escapeHtml } from '../platform/html.ts';

/** The body Sips answers to a request that is not application/json (seed document, verbatim). */
export const UNSUPPORTED_MEDIA_TYPE_PAGE = `<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html>
    <head>
        <title>415 Unsupported Media Type</title>
    </head>
    <body>
        <h1>Unsupported Media Type</h1>
        <p>The supplied request data is not in a format
acceptable for processing by this resource.</p>
    </body>
</html>
`;

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Payload Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? 'Error';
}

/** An Apache-style error page, as a front server would send. */
export function errorPage(status: number, detail?: string): string {
  const title = `${status} ${statusText(status)}`;
  return `<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html>
    <head>
        <title>${escapeHtml(title)}</title>
    </head>
    <body>
        <h1>${escapeHtml(statusText(status))}</h1>
        <p>${escapeHtml(detail ?? 'The server encountered an error and could not complete your request.')}</p>
    </body>
</html>
`;
}

function hiddenInputs(fields: Readonly<Record<string, string>>): string {
  return Object.entries(fields)
    .map(
      ([name, value]) =>
        `    <input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`,
    )
    .join('\n');
}

/** A form that posts itself on load, with a Submit button for browsers without JavaScript. */
export function autoSubmitPage(
  title: string,
  action: string,
  fields: Record<string, string>,
): string {
  return `<html>
<head>
  <title>${escapeHtml(title)}</title>
</head>
<body OnLoad="OnLoadEvent();">
  <form name="downloadForm" action="${escapeHtml(action)}" method="POST">
    <noscript>
      <br>
      <br>
      <center>
        <h1>${escapeHtml(title)}</h1>
        <h2>JavaScript is currently disabled or is not supported by your browser.<br></h2>
        <h3>Please click Submit to continue the processing of your transaction.</h3>
        <input type="submit" value="Submit">
      </center>
    </noscript>
${hiddenInputs(fields)}
  </form>
  <script>
    function OnLoadEvent() {
      document.downloadForm.submit();
    }
  </script>
</body>
</html>
`;
}

export interface ChoiceButton {
  value: string;
  label: string;
}

export interface ChoicePage {
  title: string;
  heading: string;
  /** Lines shown above the buttons (already plain text). */
  details: readonly string[];
  action: string;
  fields: Record<string, string>;
  buttons: readonly ChoiceButton[];
}

/** The ACS / provider page: a plain form, one submit button per outcome. */
export function choicePage(page: ChoicePage): string {
  const details = page.details.map((line) => `  <p>${escapeHtml(line)}</p>`).join('\n');
  const buttons = page.buttons
    .map(
      (button) =>
        `    <button type="submit" name="outcome" value="${escapeHtml(button.value)}">${escapeHtml(button.label)}</button>`,
    )
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>${escapeHtml(page.title)}</title>
</head>
<body>
  <h1>${escapeHtml(page.heading)}</h1>
${details}
  <form name="decisionForm" action="${escapeHtml(page.action)}" method="POST">
${hiddenInputs(page.fields)}
${buttons}
  </form>
</body>
</html>
`;
}
