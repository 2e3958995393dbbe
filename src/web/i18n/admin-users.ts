import { messagesPart } from './part.js';

// The console's user management: creating, editing, resetting and deleting accounts, and
// the page that shows a generated password once.

export const adminUsers = messagesPart(
  {
    adminUsersCreate: 'Create user',
    adminCreateUserTitle: 'Create a user',
    adminCreateUserLead:
      'The account is confirmed at once: its owner can sign in and pair devices straight away.',
    adminCreateUserLanguage: 'Language of mails to the user',
    adminCreateUserPasswordChoice: 'Password',
    adminCreateUserGenerate: 'Generate a random password and show it to me once',
    adminCreateUserTyped: 'Set a password myself',
    adminCreateUserPassword: 'Password to set',
    adminCreateUserPasswordHint: 'Only used when you set it yourself: 8 to 256 bytes.',
    adminCreateUserSubmit: 'Create user',
    adminBackToUsers: 'Back to users',
    adminUsernameTaken: 'This username is already taken.',
    adminEmailTaken: 'Another account already uses this e-mail address.',
    adminBadUserTitle: 'Check the values',
    adminBadUser:
      'The username must be 1 to 64 letters, digits, dots, dashes or underscores, and the e-mail a plain address.',
    adminTakenTitle: 'Already taken',
    adminFlashCreated: 'User {username} is created.',
    adminFlashUpdated: 'Changes to {username} are saved.',
    adminFlashDeleted: 'User {username} and everything they synced are deleted.',
    adminManage: 'Manage',
    adminManageOf: 'Manage {username}',
    adminEditLegend: 'Username and e-mail',
    adminEditSave: 'Save',
    adminResetPassword: 'Reset password',
    adminResetHint:
      'Sets a random password, shown to you once, and signs the user out of the browser.',
    adminDeleteUser: 'Delete user',
    adminDeleteHint:
      'Deletes the account, its devices and everything it synced. This cannot be undone.',
    adminPasswordResultTitle: 'New password',
    adminPasswordResultLead:
      'The new password of {username}. Copy it now and pass it on safely: it is not shown again.',
    adminPasswordResultGone:
      'This password was already shown, or more than 5 minutes have passed. If it was not saved, reset the password again.',
    adminUserTitle: 'User',
    adminUserAccount: 'Account',
    adminUserAccess: 'Access',
    adminUserAccessHint:
      'A blocked user cannot sign in, and their devices cannot sync until they are unblocked.',
    adminUserDevices: 'Devices',
    adminUserNoDevices:
      'No devices are paired yet. The user pairs one by signing in from the desktop app.',
    adminUserAllDevices: 'This user in the devices list',
    adminUserVaults: 'Vaults',
    adminUserNoVaults: 'Nothing is synced yet: a vault appears when a device first pushes to it.',
    adminUserAllVaults: 'This user in the vaults list',
    adminUserMore: 'The first {shown} of {total} are shown here.',
    adminUserManage: 'Manage the account',
    adminBadUserIdTitle: 'User not given',
    adminBadUserId: 'The address must name a user. Open one from the users list.',
  },
  {
    adminUsersCreate: 'Создать пользователя',
    adminCreateUserTitle: 'Новый пользователь',
    adminCreateUserLead:
      'Учётная запись сразу подтверждена: владелец может войти и подключить устройства.',
    adminCreateUserLanguage: 'Язык писем пользователю',
    adminCreateUserPasswordChoice: 'Пароль',
    adminCreateUserGenerate: 'Создать случайный пароль и показать его мне один раз',
    adminCreateUserTyped: 'Задать пароль самому',
    adminCreateUserPassword: 'Пароль пользователя',
    adminCreateUserPasswordHint: 'Нужен, только если вы задаёте его сами: от 8 до 256 байт.',
    adminCreateUserSubmit: 'Создать',
    adminBackToUsers: 'К списку пользователей',
    adminUsernameTaken: 'Это имя пользователя уже занято.',
    adminEmailTaken: 'Этот адрес уже указан в другой учётной записи.',
    adminBadUserTitle: 'Проверьте данные',
    adminBadUser:
      'Имя пользователя — от 1 до 64 букв, цифр, точек, дефисов или подчёркиваний, а e-mail — обычный адрес.',
    adminTakenTitle: 'Уже занято',
    adminFlashCreated: 'Пользователь {username} создан.',
    adminFlashUpdated: 'Изменения пользователя {username} сохранены.',
    adminFlashDeleted: 'Пользователь {username} и всё, что он синхронизировал, удалены.',
    adminManage: 'Управление',
    adminManageOf: 'Управление: {username}',
    adminEditLegend: 'Имя пользователя и e-mail',
    adminEditSave: 'Сохранить',
    adminResetPassword: 'Сбросить пароль',
    adminResetHint:
      'Задаёт случайный пароль (он будет показан вам один раз) и завершает сеансы пользователя в браузере.',
    adminDeleteUser: 'Удалить пользователя',
    adminDeleteHint:
      'Удаляет учётную запись, её устройства и всё синхронизированное. Отменить это нельзя.',
    adminPasswordResultTitle: 'Новый пароль',
    adminPasswordResultLead:
      'Новый пароль пользователя {username}. Скопируйте его сейчас и передайте надёжным способом: больше он показан не будет.',
    adminPasswordResultGone:
      'Этот пароль уже был показан или прошло больше 5 минут. Если он не сохранён, сбросьте пароль ещё раз.',
    adminUserTitle: 'Пользователь',
    adminUserAccount: 'Учётная запись',
    adminUserAccess: 'Доступ',
    adminUserAccessHint:
      'Заблокированный пользователь не может войти, а его устройства не синхронизируются, пока блокировка не снята.',
    adminUserDevices: 'Устройства',
    adminUserNoDevices:
      'Устройств пока нет. Пользователь подключает их, входя в настольном приложении.',
    adminUserAllDevices: 'Этот пользователь в списке устройств',
    adminUserVaults: 'Хранилища',
    adminUserNoVaults:
      'Пока ничего не синхронизировано: хранилище появится, когда устройство впервые отправит в него данные.',
    adminUserAllVaults: 'Этот пользователь в списке хранилищ',
    adminUserMore: 'Здесь показаны первые {shown} из {total}.',
    adminUserManage: 'Управление учётной записью',
    adminBadUserIdTitle: 'Пользователь не указан',
    adminBadUserId:
      'В адресе должен быть указан пользователь. Откройте его из списка пользователей.',
  },
);
