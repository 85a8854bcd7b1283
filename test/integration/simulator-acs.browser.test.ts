/**
 * The simulated ACS in a real browser (headless Chromium): the merchant
 * page auto-submits the seed's redirection form to the ACS, the tester
 * clicks an outcome, the ACS auto-submits PaRes and MD to the TermUrl served
 * by the test, and cardValidateAuthenticationAndOrder authorises. Then the
 * same with JavaScript disabled, through the <noscript> Submit buttons.
 */
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  answered,
  EXPIRY,
  startHarness,
  startMerchantSite,
  type Harness,
  type MerchantSite,
} from '../support/simulator-harness.ts';
import { openBrowser, type TestBrowser } from '../support/browser.ts';

let h: Harness;
let site: MerchantSite;
const browsers: TestBrowser[] = [];

/** A fresh browser profile each time. */
async function browser(javaScriptEnabled: boolean): Promise<BrowserContext> {
  const opened = await openBrowser({ javaScriptEnabled });
  browsers.push(opened);
  return opened.context;
}

/** The seed's "Exemple de code de redirection HTTP POST - PAReq", filled in. */
function redirectionPage(acsUrl: string, paReq: string, termUrl: string, md: string): string {
  return `<html>
<head>
  <title>Title for Page</title>
</head>
<body OnLoad="OnLoadEvent();" >
  <form name="downloadForm" action="${acsUrl}" method="POST">
  <noscript>
  <br>
  <br>
  <center>
    <h1>Processing your 3-D Secure Transaction</h1>
    <h2>JavaScript is currently disabled or is not supported by your browser.<br></h2>
    <h3>Please click Submit to continue the processing of your 3-D Secure transaction.</h3>
    <input type="submit" value="Submit">
  </center>
  </noscript>
  <input type="hidden" name="PaReq" value="${paReq}">
  <input type="hidden" name="TermUrl" value="${termUrl}">
  <input type="hidden" name="MD" value="${md}">
  </form>
<SCRIPT LANGUAGE="Javascript" >
<!--
function OnLoadEvent()
{
document.downloadForm.submit();
}
//-->
</SCRIPT>
</body>
</html>`;
}

async function enrol(transactionReference: string) {
  const response = answered(
    await h.client.cardCheckEnrollment({
      amount: 12_345,
      currencyCode: '978',
      cardNumber: '4000000000000002',
      cardExpiryDate: EXPIRY,
      cardCSCValue: '123',
      transactionReference,
    }),
  );
  expect(response.redirectionStatusCode).toBe('00');
  return response;
}

async function validateAndOrder(
  transactionReference: string,
  enrolment: Record<string, unknown>,
  paRes: string,
) {
  return answered(
    await h.client.cardValidateAuthenticationAndOrder({
      transactionReference,
      messageVersion: enrolment.messageVersion as string,
      redirectionData: enrolment.redirectionData as string,
      paResMessage: paRes,
    }),
  );
}

beforeAll(async () => {
  h = await startHarness();
  site = await startMerchantSite();
});

afterAll(async () => {
  for (const opened of browsers) await opened.close();
  await site.close();
  await h.close();
});

describe('simulated ACS in Chromium', () => {
  it('authenticates through the auto-submitting forms and lands on the TermUrl', async () => {
    const reference = 'BROWSERJS1';
    const enrolment = await enrol(reference);
    site.page(
      '/checkout-js',
      redirectionPage(
        enrolment.redirectionUrl as string,
        enrolment.paReqMessage as string,
        `${site.url}/term-js`,
        'order-77',
      ),
    );
    const context = await browser(true);
    const page = await context.newPage();
    await page.goto(`${site.url}/checkout-js`);
    // The redirection form submitted itself: this is the ACS page.
    await page.waitForSelector('button[value="SUCCESS"]');
    expect(await page.title()).toBe('Simulated 3-D Secure authentication');
    expect(await page.textContent('body')).toContain('4000##########02');
    await page.click('button[value="SUCCESS"]');
    // The ACS answer submitted itself to the TermUrl.
    await page.waitForSelector('#done');
    expect(page.url()).toBe(`${site.url}/term-js`);

    const received = await site.nextPost('/term-js');
    expect(received.MD).toBe('order-77');
    expect(received.PaRes).toEqual(expect.any(String));

    const result = await validateAndOrder(reference, enrolment, received.PaRes as string);
    expect(result).toMatchObject({ responseCode: '00', holderAuthentStatus: 'SUCCESS' });
    expect(h.sim.ledger.countAuthorizations(reference)).toBe(1);
  });

  it('works with JavaScript disabled, through the noscript Submit buttons', async () => {
    const reference = 'BROWSERNOJS1';
    const enrolment = await enrol(reference);
    site.page(
      '/checkout-nojs',
      redirectionPage(
        enrolment.redirectionUrl as string,
        enrolment.paReqMessage as string,
        `${site.url}/term-nojs`,
        'order-78',
      ),
    );
    const context = await browser(false);
    const page = await context.newPage();
    await page.goto(`${site.url}/checkout-nojs`);
    // Nothing submits by itself: the merchant page waits for its Submit button.
    expect(page.url()).toBe(`${site.url}/checkout-nojs`);
    await page.click('input[type="submit"][value="Submit"]');
    await page.waitForSelector('button[value="ATTEMPT"]');
    await page.click('button[value="ATTEMPT"]');
    // The ACS answer shows its own noscript Submit button.
    await page.waitForSelector('input[type="submit"][value="Submit"]');
    expect(site.posts('/term-nojs')).toHaveLength(0);
    await page.click('input[type="submit"][value="Submit"]');
    await page.waitForSelector('#done');

    const received = await site.nextPost('/term-nojs');
    expect(received.MD).toBe('order-78');
    const result = await validateAndOrder(reference, enrolment, received.PaRes as string);
    expect(result).toMatchObject({ responseCode: '00', holderAuthentStatus: 'ATTEMPT' });
  });
});
