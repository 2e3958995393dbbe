import type { MailLocale, MailTemplateName } from './outbox.js';

/** Where a template's link goes; rendered as a bare URL in text and an anchor in HTML. */
export const LINK = Symbol('link');

export interface TemplateText {
  readonly subject: string;
  readonly blocks: readonly (string | typeof LINK)[];
}

export type Params = Readonly<Record<string, string | undefined>>;

type Texts = Record<MailTemplateName, (p: Params) => TemplateText>;

const SIGNATURE = {
  en: 'Verstak Sync\nThis message was sent automatically; replies are not read.',
  ru: 'Verstak Sync\nЭто письмо отправлено автоматически; ответы на него не читаются.',
} as const;

const EN: Texts = {
  'confirm-email': (p) => ({
    subject: 'Verstak Sync — confirm your email',
    blocks: [
      p.username ? `Hello, ${p.username}!` : 'Hello!',
      'To finish creating your Verstak Sync account, confirm your email address by opening this link:',
      LINK,
      'The link expires in 48 hours. If you did not create an account, ignore this message.',
    ],
  }),
  'reset-password': (p) => ({
    subject: 'Verstak Sync — reset your password',
    blocks: [
      p.username ? `Hello, ${p.username}!` : 'Hello!',
      'Someone asked to reset the password of your Verstak Sync account. To choose a new password, open this link:',
      LINK,
      'The link expires in 30 minutes and works once. If you did not ask for this, ignore this message: your password stays the same.',
    ],
  }),
  'account-exists': (p) => ({
    subject: 'Verstak Sync — someone tried to register with your email',
    blocks: [
      p.username ? `Hello, ${p.username}!` : 'Hello!',
      'Someone tried to create a new Verstak Sync account with this email address, but you already have an account with it.',
      'If it was you and you have forgotten your password, you can reset it here:',
      LINK,
      'If it was not you, ignore this message: nothing has changed.',
    ],
  }),
  'password-changed': (p) => ({
    subject: 'Verstak Sync — your password was changed',
    blocks: [
      p.username ? `Hello, ${p.username}!` : 'Hello!',
      'The password of your Verstak Sync account has just been changed. If you did this, there is nothing more to do.',
      ...(p.link
        ? (['If you did not, reset your password at once with this link:', LINK] as const)
        : ['If you did not, reset your password at once.']),
      'If you cannot sign in, contact the administrator of your server.',
    ],
  }),
  'smtp-test': () => ({
    subject: 'Verstak Sync — test message',
    blocks: [
      'This is a test message from your Verstak Sync server.',
      'If you can read it, the server can send mail.',
    ],
  }),
};

const RU: Texts = {
  'confirm-email': (p) => ({
    subject: 'Verstak Sync — подтвердите адрес электронной почты',
    blocks: [
      p.username ? `Здравствуйте, ${p.username}!` : 'Здравствуйте!',
      'Чтобы завершить регистрацию в Verstak Sync, подтвердите адрес электронной почты — откройте ссылку:',
      LINK,
      'Ссылка действует 48 часов. Если вы не регистрировались, просто не обращайте внимания на это письмо.',
    ],
  }),
  'reset-password': (p) => ({
    subject: 'Verstak Sync — сброс пароля',
    blocks: [
      p.username ? `Здравствуйте, ${p.username}!` : 'Здравствуйте!',
      'Кто-то запросил сброс пароля вашей учётной записи Verstak Sync. Чтобы задать новый пароль, откройте ссылку:',
      LINK,
      'Ссылка действует 30 минут и срабатывает один раз. Если вы не запрашивали сброс, не обращайте внимания на это письмо: пароль останется прежним.',
    ],
  }),
  'account-exists': (p) => ({
    subject: 'Verstak Sync — попытка регистрации с вашим адресом',
    blocks: [
      p.username ? `Здравствуйте, ${p.username}!` : 'Здравствуйте!',
      'Кто-то пытался создать новую учётную запись Verstak Sync с этим адресом электронной почты, но у вас уже есть учётная запись с ним.',
      'Если это были вы и вы забыли пароль, его можно сбросить по ссылке:',
      LINK,
      'Если это были не вы, не обращайте внимания на это письмо: ничего не изменилось.',
    ],
  }),
  'password-changed': (p) => ({
    subject: 'Verstak Sync — пароль изменён',
    blocks: [
      p.username ? `Здравствуйте, ${p.username}!` : 'Здравствуйте!',
      'Пароль вашей учётной записи Verstak Sync только что изменён. Если это сделали вы, больше ничего делать не нужно.',
      ...(p.link
        ? (['Если нет, немедленно сбросьте пароль по ссылке:', LINK] as const)
        : ['Если нет, немедленно сбросьте пароль.']),
      'Если не удаётся войти, обратитесь к администратору вашего сервера.',
    ],
  }),
  'smtp-test': () => ({
    subject: 'Verstak Sync — тестовое письмо',
    blocks: [
      'Это тестовое письмо от вашего сервера Verstak Sync.',
      'Если вы его читаете, сервер может отправлять почту.',
    ],
  }),
};

export const TEXTS: Record<MailLocale, Texts> = { en: EN, ru: RU };
export const SIGNATURES: Record<MailLocale, string> = SIGNATURE;
