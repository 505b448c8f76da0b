# Rocky Linux 8 for Discomy builders, in mock's template style: the per-arch
# files set root and target_arch, then include this file.
config_opts['chroot_setup_cmd'] = 'install @{{ buildsys_group }}'
config_opts['buildsys_group'] = 'buildsys-build'
config_opts['dist'] = 'el8'
config_opts['releasever'] = '8'
config_opts['package_manager'] = 'dnf'
config_opts['extra_chroot_dirs'] = ['/run/lock']
config_opts['bootstrap_image'] = 'quay.io/rockylinux/rockylinux:8'
config_opts['description'] = 'Rocky Linux 8'
config_opts['macros']['%dist'] = '.el8'

config_opts['dnf.conf'] = """
[main]
keepcache=1
debuglevel=2
reposdir=/dev/null
logfile=/var/log/yum.log
retries=20
obsoletes=1
gpgcheck=0
assumeyes=1
syslog_ident=mock
syslog_device=
metadata_expire=0
mdpolicy=group:primary
best=1
install_weak_deps=0
protected_packages=
module_platform_id=platform:el8
user_agent={{ user_agent }}

[baseos]
name=Rocky Linux 8 - BaseOS
mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch={{ target_arch }}&repo=BaseOS-8
gpgkey=file:///usr/share/distribution-gpg-keys/rocky/RPM-GPG-KEY-rockyofficial
gpgcheck=1
skip_if_unavailable=False

[appstream]
name=Rocky Linux 8 - AppStream
mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch={{ target_arch }}&repo=AppStream-8
gpgkey=file:///usr/share/distribution-gpg-keys/rocky/RPM-GPG-KEY-rockyofficial
gpgcheck=1
skip_if_unavailable=False

[powertools]
name=Rocky Linux 8 - PowerTools
mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch={{ target_arch }}&repo=PowerTools-8
gpgkey=file:///usr/share/distribution-gpg-keys/rocky/RPM-GPG-KEY-rockyofficial
gpgcheck=1
skip_if_unavailable=False
"""
