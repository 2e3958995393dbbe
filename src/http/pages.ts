import type { Locale } from './locale.js';

// The few HTML pages the auth API itself serves; the web console brings its own templates.

export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const TEXT = {
  en: {
    confirmTitle: 'Confirm your e-mail address',
    confirmLead: 'Press the button to confirm the address of your Verstak Sync account.',
    confirmButton: 'Confirm',
    doneTitle: 'E-mail address confirmed',
    doneLead: 'Your address is confirmed. You can now sign in and pair your devices.',
    failedTitle: 'This link cannot be used',
    missingToken: 'The link has no token. Open the link from the mail again.',
    invalidToken: 'The link is invalid, already used or expired. Register again to get a new one.',
    forbidden: 'The form has expired. Open the link from the mail again.',
    signIn: 'Sign in',
  },
  ru: {
    confirmTitle: 'Подтвердите адрес электронной почты',
    confirmLead: 'Нажмите кнопку, чтобы подтвердить адрес учётной записи Verstak Sync.',
    confirmButton: 'Подтвердить',
    doneTitle: 'Адрес подтверждён',
    doneLead: 'Адрес подтверждён. Теперь можно войти и подключить устройства.',
    failedTitle: 'Эту ссылку нельзя использовать',
    missingToken: 'В ссылке нет кода. Откройте ссылку из письма ещё раз.',
    invalidToken:
      'Ссылка неверна, уже использована или устарела. Зарегистрируйтесь снова, чтобы получить новую.',
    forbidden: 'Форма устарела. Откройте ссылку из письма ещё раз.',
    signIn: 'Войти',
  },
} as const;

export type PageText = keyof (typeof TEXT)['en'];

export const pageText = (locale: Locale, key: PageText) => TEXT[locale][key];

function layout(locale: Locale, title: string, body: string): string {
  return `<!doctype html>
<html lang="${locale}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} — Verstak Sync</title></head>
<body><main><h1>${escapeHtml(title)}</h1>
${body}
</main></body></html>
`;
}

/** Asks for a click: mail scanners follow links, and a GET must never confirm. */
export function confirmFormPage(locale: Locale, token: string, formToken: string): string {
  return layout(
    locale,
    pageText(locale, 'confirmTitle'),
    `<p>${escapeHtml(pageText(locale, 'confirmLead'))}</p>
<form method="post" action="/api/v1/auth/confirm">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<input type="hidden" name="locale_csrf" value="${escapeHtml(formToken)}">
<button type="submit">${escapeHtml(pageText(locale, 'confirmButton'))}</button>
</form>`,
  );
}

export function messagePage(locale: Locale, title: PageText, message: PageText): string {
  return layout(
    locale,
    pageText(locale, title),
    `<p>${escapeHtml(pageText(locale, message))}</p>
<p><a href="/login">${escapeHtml(pageText(locale, 'signIn'))}</a></p>`,
  );
}
