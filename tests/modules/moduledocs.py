"""Modulemd documents the module-build tests start from."""

V2 = """\
document: modulemd
version: 2
data:
  name: demo
  stream: "1.0"
  summary: Demo module
  description: A demo module.
  license:
    module: [MIT]
  dependencies:
    - buildrequires:
        platform: [el9, el8]
      requires:
        platform: [el9, el8]
  components:
    rpms:
      corelib:
        rationale: bottom
        repository: file:///srv/git/corelib.git
        ref: main
      parsekit:
        rationale: next
        ref: main
        buildafter: [corelib]
        buildonly: true
"""

V3 = """\
document: modulemd-packager
version: 3
data:
  name: demo
  stream: "1.0"
  summary: Demo module
  description: A demo module.
  license: [MIT]
  configurations:
    - context: CTX1
      platform: el9
      buildrequires:
        llvm: [rolling]
      requires:
        llvm: [rolling]
    - context: CTX2
      platform: el8
  components:
    rpms:
      corelib:
        rationale: bottom
        ref: main
        buildorder: 1
      parsekit:
        rationale: next
        ref: main
        buildorder: 2
        arches: [x86_64, aarch64]
"""
