import type { MailLocale, MailTemplateName } from './outbox.js';
import { LINK, SIGNATURES, TEXTS, type Params } from './template-texts.js';

export interface RenderedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const isWebLink = (value: string) => {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && !/[\s<>"']/.test(value);
  } catch {
    return false;
  }
};

const paragraph = (text: string, style = '') =>
  `<p${style ? ` style="${style}"` : ''}>${text.split('\n').map(escapeHtml).join('<br>')}</p>`;

/**
 * The subject and both bodies of one mail. Every value is escaped in the HTML part, and a
 * link is used exactly as given (no tracking); a template that needs a link refuses to
 * render without an http(s) one rather than mail a dead or scriptable anchor.
 */
export function renderMail(
  template: MailTemplateName,
  locale: MailLocale,
  params: Params,
): RenderedMail {
  const texts = TEXTS[locale] ?? TEXTS.en;
  const { subject, blocks } = texts[template](params);
  const link = params.link ?? '';
  if (blocks.includes(LINK) && !isWebLink(link)) {
    throw new Error(`mail template ${template} needs an http(s) link`);
  }
  const signature = SIGNATURES[locale] ?? SIGNATURES.en;
  const text = [...blocks.map((b) => (b === LINK ? link : b)), `-- \n${signature}`].join('\n\n');
  const body = blocks
    .map((b) => {
      if (b !== LINK) return paragraph(b);
      const href = escapeHtml(link);
      return `<p><a href="${href}">${href}</a></p>`;
    })
    .join('\n');
  const html = `<!doctype html>
<html lang="${locale}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(subject)}</title></head>
<body style="font-family: -apple-system, 'Segoe UI', Roboto, Arial, sans-serif; font-size: 15px; line-height: 1.5; color: #1f2328;">
${body}
${paragraph(signature, 'color: #6b7280; font-size: 13px;')}
</body>
</html>
`;
  return { subject, text: `${text}\n`, html };
}
