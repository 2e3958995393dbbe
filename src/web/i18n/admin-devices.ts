import { messagesPart } from './part.js';

// The devices page's actions (CONTRACT.md §11): revoke, then delete a revoked device.
export const adminDevices = messagesPart(
  {
    adminDeviceRevoke: 'Revoke',
    adminDeviceDelete: 'Delete',
    adminDevicePasswordHint: 'Your password',
    adminFlashDeviceRevoked: 'Device {name} is revoked: its token no longer works.',
    adminFlashDeviceDeleted: 'Device {name} is deleted.',
    adminDeviceActiveTitle: 'Device still active',
    adminDeviceActive:
      'Only a revoked device can be deleted. Revoke it first; nothing was changed.',
    adminUnknownDevice: 'There is no such device. It may have been deleted already.',
  },
  {
    adminDeviceRevoke: 'Отозвать',
    adminDeviceDelete: 'Удалить',
    adminDevicePasswordHint: 'Ваш пароль',
    adminFlashDeviceRevoked: 'Устройство {name} отозвано: его токен больше не действует.',
    adminFlashDeviceDeleted: 'Устройство {name} удалено.',
    adminDeviceActiveTitle: 'Устройство ещё активно',
    adminDeviceActive:
      'Удалить можно только отозванное устройство. Сначала отзовите его; ничего не изменено.',
    adminUnknownDevice: 'Такого устройства нет. Возможно, его уже удалили.',
  },
);
