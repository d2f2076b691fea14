"""Completes python-dbusmock's systemd template for wrex's tests, through the mock's own
D-Bus API (org.freedesktop.DBus.Mock): the manager methods the template lacks (LoadUnit,
RestartUnit, TryRestartUnit, Reload), and units with the properties `systemctl status` shows.

Usage: python3 systemd_units.py <bus address> <unit>[=<main pid>] ...
A unit given a main PID is active (running); the others are inactive. A unit whose name
starts with `broken` fails every restart (job result `failed`).
"""

import sys

import dbus

MANAGER = 'org.freedesktop.systemd1.Manager'
UNIT = 'org.freedesktop.systemd1.Unit'
SERVICE = 'org.freedesktop.systemd1.Service'
PATH = '/org/freedesktop/systemd1'

# Queues a job that ends at once: `failed` for a `broken*` unit, else `done` with the unit
# active. Runs inside the mock (dbusmock executes method code with `self` and `args`).
JOB = '''
name = str(args[0])
job_id = self.next_job_id
self.next_job_id += 1
job_path = '/org/freedesktop/systemd1/Job/%d' % job_id
result = 'failed' if name.startswith('broken') else 'done'
if result == 'done':
    unit = mockobject.objects[self.units[name]]
    unit.UpdateProperties('org.freedesktop.systemd1.Unit', {'ActiveState': 'active', 'SubState': 'running'})
self.EmitSignal('org.freedesktop.systemd1.Manager', 'JobNew', 'uos', [job_id, job_path, name])
self.EmitSignal('org.freedesktop.systemd1.Manager', 'JobRemoved', 'uoss', [job_id, job_path, name, result])
ret = dbus.ObjectPath(job_path)
'''

LOAD = '''
name = str(args[0])
if name not in self.units:
    raise dbus.exceptions.DBusException('Unit %s not found.' % name, name='org.freedesktop.systemd1.NoSuchUnit')
ret = dbus.ObjectPath(self.units[name])
'''


def main():
    address, units = sys.argv[1], sys.argv[2:]
    bus = dbus.bus.BusConnection(address)
    manager = bus.get_object('org.freedesktop.systemd1', PATH)
    mock = dbus.Interface(manager, 'org.freedesktop.DBus.Mock')
    mock.AddMethod(MANAGER, 'LoadUnit', 's', 'o', 'from dbusmock import mockobject\n' + LOAD)
    for method in ('RestartUnit', 'TryRestartUnit'):
        mock.AddMethod(MANAGER, method, 'ss', 'o', 'from dbusmock import mockobject\n' + JOB)
    mock.AddMethod(MANAGER, 'Reload', '', '', '')
    for spec in units:
        name, _, pid = spec.partition('=')
        mock.AddMockUnit(name)
        path = PATH + '/unit/' + name.replace('.', '_').replace('-', '_')
        unit = dbus.Interface(bus.get_object('org.freedesktop.systemd1', path),
                              'org.freedesktop.DBus.Mock')
        unit.AddProperties(UNIT, {
            'Description': 'wrex test unit ' + name,
            'SubState': 'running' if pid else 'dead',
            'FragmentPath': '/etc/systemd/system/' + name,
            'UnitFileState': 'enabled',
            'UnitFilePreset': 'enabled',
            'NeedDaemonReload': False,
            'Documentation': dbus.Array(['man:' + name], signature='s'),
        })
        unit.AddProperties(SERVICE, {
            'MainPID': dbus.UInt32(int(pid) if pid else 0),
            'TasksCurrent': dbus.UInt64(1),
            'MemoryCurrent': dbus.UInt64(4096),
        })
        if pid:
            unit.UpdateProperties(UNIT, {'ActiveState': 'active'})
    print('ready', flush=True)


if __name__ == '__main__':
    main()
