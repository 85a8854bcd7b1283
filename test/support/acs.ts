/**
 * The customer's browser at the simulator's ACS: posts the enrolment's PaReq,
 * picks an outcome, and returns the fields the browser would post back to
 * the merchant (TermUrl).
 */
import { request } from 'undici';
import { parseHtmlForm } from './simulator-harness.ts';

export interface AcsRedirection {
  url?: string;
  paReq?: string;
  redirectionData?: string;
  messageVersion?: string;
}

async function postForm(url: string, fields: Record<string, string>): Promise<string> {
  const response = await request(url, {
    method: 'POST',
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  return response.body.text();
}

export async function authenticateAtAcs(
  simulatorUrl: string,
  redirection: AcsRedirection,
  outcome: string,
  termUrl = 'http://merchant.invalid/term',
): Promise<Record<string, string>> {
  if (!redirection.url || !redirection.paReq) {
    throw new Error('the redirection has no ACS url or PaReq');
  }
  const page = parseHtmlForm(
    await postForm(redirection.url, { PaReq: redirection.paReq, TermUrl: termUrl, MD: 'md-1' }),
  );
  if (!page.outcomes.includes(outcome)) {
    throw new Error(`the ACS offers ${page.outcomes.join(', ')}, not ${outcome}`);
  }
  const back = parseHtmlForm(
    await postForm(new URL(page.action, simulatorUrl).toString(), { ...page.fields, outcome }),
  );
  if (back.action !== termUrl) throw new Error(`the ACS posted back to ${back.action}`);
  return back.fields;
}
