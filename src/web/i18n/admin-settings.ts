import { messagesPart } from './part.js';

/** The console's settings page: web settings, mail settings and the test mail. */
export const adminSettings = messagesPart(
  {
    adminSettingsTitle: 'Settings',
    adminSettingsWebTitle: 'Web pages',
    adminSettingsWebLead: 'What visitors of the public pages see.',
    adminSettingsDefaultLocale: 'Default language',
    adminSettingsDefaultLocaleHint:
      'For visitors who chose no language and whose browser asks for neither English nor Russian.',
    adminSettingsAllowRegistration: 'Anyone can create an account',
    adminSettingsAllowRegistrationHint:
      'When off, the sign-up page is gone and the registration API refuses; existing accounts keep working.',
    adminSettingsServerName: 'Server name',
    adminSettingsServerNameHint: 'Shown in the page header and the browser tab. Empty: “{name}”.',
    adminSettingsPublicUrl: 'Public URL',
    adminSettingsPublicUrlHint:
      'The address people use to reach this server, such as https://sync.example.org. Links in mails start with it.',
    adminSettingsPublicUrlMissing:
      'No public URL is set: links in mails use the listen address {url}, which other machines may not reach.',
    adminSettingsPassword: 'Your admin password',
    adminSettingsPasswordHint: 'Asked again for every change.',
    adminSettingsSaveWeb: 'Save web settings',
    adminSettingsSmtpTitle: 'Mail (SMTP)',
    adminSettingsSmtpLead: 'Confirmation and password-reset mails go out through this SMTP server.',
    adminSettingsSmtpUnset: 'Mail is not set up yet: mails wait in the outbox until it is.',
    adminSettingsSmtpHost: 'SMTP host',
    adminSettingsSmtpPort: 'Port',
    adminSettingsSmtpSecurity: 'Security',
    adminSettingsSecurityStarttls: 'STARTTLS (usually port 587)',
    adminSettingsSecurityTls: 'TLS (usually port 465)',
    adminSettingsSecurityNone: 'None: plain text',
    adminSettingsSmtpUser: 'User name',
    adminSettingsSmtpUserHint: 'Empty: the server does not sign in to the SMTP server.',
    adminSettingsSmtpPass: 'SMTP password',
    adminSettingsSmtpPassKept: 'A password is saved. Leave this empty to keep it.',
    adminSettingsSmtpPassNone: 'No password is saved.',
    adminSettingsSmtpFrom: 'Sender address',
    adminSettingsSmtpFromHint: 'The From address of every mail, such as sync@example.org.',
    adminSettingsSaveSmtp: 'Save mail settings',
    adminSettingsTestTitle: 'Test mail',
    adminSettingsTestLead:
      'Sends a short message with the saved mail settings and waits a few seconds for the result.',
    adminSettingsTestTo: 'Send to',
    adminSettingsTestToHint: 'Empty: the sender address.',
    adminSettingsTestSend: 'Send a test mail',
    adminSettingsTestNeedsSmtp: 'Save an SMTP host and a sender address first.',
    adminFlashSettingsSaved: 'Web settings saved.',
    adminFlashSmtpSaved: 'Mail settings saved.',
    adminFlashSmtpTestPassed: 'The SMTP server accepted the test mail.',
    adminFlashSmtpTestFailed:
      'The test mail could not be sent. Check the host, port, security and password; the server log has the details.',
    adminFlashSmtpTestPending:
      'The test mail is queued but not sent yet. Look in the inbox in a minute, or in the server log.',
    adminFlashSmtpNotConfigured:
      'Mail is not set up: save an SMTP host and a sender address first.',
    adminSettingsBadLocale: 'Choose English or Russian as the default language.',
    adminSettingsBadServerName: 'The server name must be one line of at most 80 characters.',
    adminSettingsBadPublicUrl:
      'The public URL must be an absolute http:// or https:// address without a user, query or fragment.',
    adminSettingsBadHost: 'The SMTP host must be a bare host name or address.',
    adminSettingsBadPort: 'The port must be a number from 1 to 65535.',
    adminSettingsBadSecurity: 'Choose one of the security modes.',
    adminSettingsBadUser: 'The user name must be one line.',
    adminSettingsBadPass: 'The password is too long.',
    adminSettingsBadFrom:
      'The sender must be a bare address such as sync@example.org; it is needed when a host is set.',
    adminSettingsBadTestTo: 'The recipient must be a bare e-mail address.',
    adminSmtpTestFailed:
      'The SMTP server could not be reached or refused the message. The server log has the details.',
  },
  {
    adminSettingsTitle: 'Настройки',
    adminSettingsWebTitle: 'Веб-страницы',
    adminSettingsWebLead: 'Что видят посетители открытых страниц.',
    adminSettingsDefaultLocale: 'Язык по умолчанию',
    adminSettingsDefaultLocaleHint:
      'Для посетителей, которые не выбрали язык и чей браузер не просит ни русский, ни английский.',
    adminSettingsAllowRegistration: 'Любой может создать учётную запись',
    adminSettingsAllowRegistrationHint:
      'Если выключено, страницы регистрации нет, а API регистрации отказывает; существующие учётные записи работают как прежде.',
    adminSettingsServerName: 'Название сервера',
    adminSettingsServerNameHint: 'Видно в шапке страниц и на вкладке браузера. Пусто — «{name}».',
    adminSettingsPublicUrl: 'Публичный адрес',
    adminSettingsPublicUrlHint:
      'Адрес, по которому люди открывают этот сервер, например https://sync.example.org. С него начинаются ссылки в письмах.',
    adminSettingsPublicUrlMissing:
      'Публичный адрес не задан: ссылки в письмах ведут на адрес прослушивания {url}, недоступный с других машин.',
    adminSettingsPassword: 'Ваш пароль администратора',
    adminSettingsPasswordHint: 'Спрашивается при каждом изменении.',
    adminSettingsSaveWeb: 'Сохранить настройки страниц',
    adminSettingsSmtpTitle: 'Почта (SMTP)',
    adminSettingsSmtpLead:
      'Через этот SMTP-сервер уходят письма с подтверждением и сбросом пароля.',
    adminSettingsSmtpUnset: 'Почта ещё не настроена: письма ждут в очереди, пока её не настроят.',
    adminSettingsSmtpHost: 'SMTP-сервер',
    adminSettingsSmtpPort: 'Порт',
    adminSettingsSmtpSecurity: 'Защита',
    adminSettingsSecurityStarttls: 'STARTTLS (обычно порт 587)',
    adminSettingsSecurityTls: 'TLS (обычно порт 465)',
    adminSettingsSecurityNone: 'Нет: открытый текст',
    adminSettingsSmtpUser: 'Имя пользователя',
    adminSettingsSmtpUserHint: 'Пусто — сервер не входит на SMTP-сервер.',
    adminSettingsSmtpPass: 'Пароль SMTP',
    adminSettingsSmtpPassKept: 'Пароль сохранён. Оставьте поле пустым, чтобы его не менять.',
    adminSettingsSmtpPassNone: 'Пароль не сохранён.',
    adminSettingsSmtpFrom: 'Адрес отправителя',
    adminSettingsSmtpFromHint: 'Адрес в поле «От» каждого письма, например sync@example.org.',
    adminSettingsSaveSmtp: 'Сохранить настройки почты',
    adminSettingsTestTitle: 'Тестовое письмо',
    adminSettingsTestLead:
      'Отправляет короткое письмо с сохранёнными настройками и несколько секунд ждёт результата.',
    adminSettingsTestTo: 'Кому',
    adminSettingsTestToHint: 'Пусто — на адрес отправителя.',
    adminSettingsTestSend: 'Отправить тестовое письмо',
    adminSettingsTestNeedsSmtp: 'Сначала сохраните SMTP-сервер и адрес отправителя.',
    adminFlashSettingsSaved: 'Настройки страниц сохранены.',
    adminFlashSmtpSaved: 'Настройки почты сохранены.',
    adminFlashSmtpTestPassed: 'SMTP-сервер принял тестовое письмо.',
    adminFlashSmtpTestFailed:
      'Тестовое письмо отправить не удалось. Проверьте сервер, порт, защиту и пароль; подробности — в журнале сервера.',
    adminFlashSmtpTestPending:
      'Тестовое письмо в очереди, но ещё не отправлено. Загляните в почту через минуту или в журнал сервера.',
    adminFlashSmtpNotConfigured:
      'Почта не настроена: сначала сохраните SMTP-сервер и адрес отправителя.',
    adminSettingsBadLocale: 'Выберите русский или английский язык по умолчанию.',
    adminSettingsBadServerName: 'Название сервера — одна строка не длиннее 80 символов.',
    adminSettingsBadPublicUrl:
      'Публичный адрес должен быть полным адресом http:// или https:// без имени пользователя, запроса и фрагмента.',
    adminSettingsBadHost: 'SMTP-сервер — это имя хоста или IP-адрес без пробелов.',
    adminSettingsBadPort: 'Порт — число от 1 до 65535.',
    adminSettingsBadSecurity: 'Выберите один из вариантов защиты.',
    adminSettingsBadUser: 'Имя пользователя должно быть в одну строку.',
    adminSettingsBadPass: 'Пароль слишком длинный.',
    adminSettingsBadFrom:
      'Отправитель — простой адрес вроде sync@example.org; он нужен, когда задан SMTP-сервер.',
    adminSettingsBadTestTo: 'Получатель — простой адрес электронной почты.',
    adminSmtpTestFailed:
      'SMTP-сервер недоступен или отклонил письмо. Подробности — в журнале сервера.',
  },
);
