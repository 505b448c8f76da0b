"""Stand-in for koji's ``kojihub`` package (kojihub/kojihub.py names re-exported by
kojihub/__init__.py): only the functions the Discomy hub plugin calls, with the
real signatures and return shapes, backed by ``kojihub_world``."""

import koji

import kojihub_world


def convert_value(value, cast=None, message=None, exc_type=koji.ParameterError,
                  none_allowed=False, check_only=False):
    if value is None and none_allowed:
        return None
    try:
        return cast(value) if cast else value
    except (TypeError, ValueError):
        raise exc_type(message or f"Invalid type for value '{value}': {type(value)}")


def get_host(hostInfo, strict=False, event=None):
    world = kojihub_world.WORLD
    for row in world.hosts + world.disabled_hosts:
        if hostInfo in (row["id"], row["name"]):
            return {"id": row["id"], "name": row["name"], "arches": row["arches"],
                    "enabled": row not in world.disabled_hosts}
    if strict:
        raise koji.GenericError(f"Invalid hostInfo: {hostInfo}")
    return None


def get_tag(tagInfo, strict=False, event=None, blocked=False):
    tag = kojihub_world.WORLD.tag(tagInfo)
    if tag is None:
        if strict:
            raise koji.GenericError(f"No such tagInfo: '{tagInfo}'")
        return None
    return {"id": tag["id"], "name": tag["name"], "extra": dict(tag["extra"])}


def _edit_tag(tagInfo, **kwargs):
    tag = kojihub_world.WORLD.tag(tagInfo)
    if tag is None:
        raise koji.GenericError(f"No such tagInfo: '{tagInfo}'")
    tag["extra"].update(kwargs.get("extra") or {})
    for key in kwargs.get("remove_extra") or []:
        tag["extra"].pop(key, None)


def get_build_target(info, event=None, strict=False):
    target = kojihub_world.WORLD.targets.get(info)
    if target is None and strict:
        raise koji.GenericError(f"No such build target: {info}")
    return target


class Task:
    def __init__(self, id):
        self.id = id

    def getInfo(self, strict=True, request=False):
        world = kojihub_world.WORLD
        for row in world.free_tasks + world.active_tasks:
            if row["task_id"] == self.id:
                info = {"id": self.id, "state": row["state"], "channel_id": row["channel_id"],
                        "arch": row["arch"], "weight": row["weight"],
                        "priority": row["priority"], "create_ts": row["create_ts"],
                        "method": row["method"], "host_id": row["host_id"]}
                if request:
                    info["request"] = list(koji.xmlrpcplus.loads(world.requests[self.id])[0])
                return info
        if strict:
            raise koji.GenericError(f"No such task: {self.id}")
        return None
