import { describe, expect, it } from 'vitest';
import type { MailLocale, MailTemplateName } from '../../src/mail/outbox.js';
import { renderMail } from '../../src/mail/templates.js';

const TEMPLATES: MailTemplateName[] = [
  'confirm-email',
  'reset-password',
  'account-exists',
  'password-changed',
  'smtp-test',
];
const LOCALES: MailLocale[] = ['en', 'ru'];
const LINK = 'https://sync.example.test/confirm#t=0123456789abcdef';

describe('mail templates', () => {
  for (const template of TEMPLATES) {
    for (const locale of LOCALES) {
      it(`renders ${template} in ${locale} with a real subject and both parts`, () => {
        const mail = renderMail(template, locale, { link: LINK, username: 'alice' });
        expect(mail.subject).toMatch(/^Verstak Sync — \S/);
        for (const part of [mail.subject, mail.text, mail.html]) {
          // No translation-key or format-string artefacts (CONTRACT.md §17.5).
          expect(part).not.toMatch(/Translation|%!|\{\{|\}\}|undefined|\[object/);
        }
        expect(mail.html).toContain(`<html lang="${locale}">`);
        expect(mail.text.endsWith('\n')).toBe(true);
        if (locale === 'ru') expect(mail.subject).toMatch(/[а-яё]/i);
        if (template !== 'smtp-test') {
          expect(mail.text).toContain(LINK);
          expect(mail.html).toContain(`<a href="${LINK}">${LINK}</a>`);
        }
      });
    }
  }

  it('states the link lifetimes: 48 hours to confirm, 30 minutes to reset', () => {
    expect(renderMail('confirm-email', 'en', { link: LINK }).text).toContain('48 hours');
    expect(renderMail('confirm-email', 'ru', { link: LINK }).text).toContain('48 часов');
    const reset = renderMail('reset-password', 'en', { link: LINK }).text;
    expect(reset).toContain('30 minutes');
    expect(reset).toContain('If you did not ask for this, ignore this message');
    expect(renderMail('reset-password', 'ru', { link: LINK }).text).toContain('30 минут');
  });

  it('escapes every value in the HTML part and keeps the text part literal', () => {
    const username = `<script>alert("x")</script>&'`;
    const link = 'https://sync.example.test/reset?lang=ru&x=1#t=abc';
    const mail = renderMail('reset-password', 'en', { link, username });
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
    expect(mail.html).toContain('href="https://sync.example.test/reset?lang=ru&amp;x=1#t=abc"');
    expect(mail.text).toContain(`Hello, ${username}!`);
  });

  it('refuses a template that needs a link without an http(s) one', () => {
    expect(() => renderMail('confirm-email', 'en', {})).toThrow(/needs an http\(s\) link/);
    expect(() => renderMail('reset-password', 'en', { link: 'javascript:alert(1)' })).toThrow();
    expect(() => renderMail('account-exists', 'ru', { link: 'https://a.test/x y' })).toThrow();
    expect(() =>
      renderMail('account-exists', 'en', { link: 'https://a.test/"onmouseover=x' }),
    ).toThrow();
  });

  it('mails the password-changed notice without a link when none is given', () => {
    const mail = renderMail('password-changed', 'en', { username: 'bob' });
    expect(mail.text).toContain('reset your password at once.');
    expect(mail.html).not.toContain('<a ');
  });

  it('greets without a name when none is given', () => {
    expect(renderMail('confirm-email', 'en', { link: LINK }).text.startsWith('Hello!\n')).toBe(
      true,
    );
    expect(
      renderMail('confirm-email', 'ru', { link: LINK }).text.startsWith('Здравствуйте!\n'),
    ).toBe(true);
  });
});
