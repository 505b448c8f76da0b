"""``/api/v1/hosts``: koji's builders with the host data they publish, as the placement
core reads it, from a stand-in hub over XML-RPC through koji's own ClientSession."""

from __future__ import annotations

import socket

from api_world import make_api, make_config


def test_the_fleet_view_shows_each_host_with_its_discomy_data_and_the_fleet_it_makes(api):
    answer = api.client.get("/api/v1/hosts")
    assert answer.status_code == 200, answer.text
    view = answer.json()
    b1, b2 = view["hosts"]
    assert (b1["name"], b1["arches"], b1["cpus"], b1["memory_mb"], b1["speed"], b1["maxjobs"]) \
        == ("b1", ["x86_64", "i686"], 16, 32768, 1.5, 4)
    assert (b1["disk_free_mb"], b1["virt"], b1["features"], b1["load1"]) == \
        (400000, ["chroot", "kvm"], ["ssd"], 2.5)
    assert b1["enabled"] and b1["ready"] and not b1["draining"] and b1["warnings"] == []
    # a builder without Discomy's data: unknown, never zero
    assert (b2["name"], b2["cpus"], b2["speed"], b2["virt"]) == ("b2", None, None, [])
    assert view["fleet"]["hosts"] == 2 and view["fleet"]["arches"] == ["aarch64", "i686", "x86_64"]
    assert {g["name"]: g["speed"] for g in view["fleet"]["groups"]} == {"b1": 1.5, "b2": 1.0}
    assert api.client.get("/api/v1/hosts?enabled=false").json()["hosts"] == []


def test_the_fleet_view_asks_koji_once_per_period_however_many_read(
        tmp_path, example_repos, koji_hub):
    api = make_api(f"sqlite:///{tmp_path / 'state.sqlite'}",
                   make_config(tmp_path, example_repos, koji_hub.url, hosts_cache_seconds=60.0))
    before = koji_hub.calls.count("listHosts")
    for _ in range(5):
        assert api.client.get("/api/v1/hosts").status_code == 200
    assert koji_hub.calls.count("listHosts") - before == 1


def test_a_koji_that_does_not_answer_is_a_503_that_says_so(tmp_path, example_repos, koji_hub):
    with socket.socket() as s:               # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = make_api(f"sqlite:///{tmp_path / 'down.sqlite'}",
                    make_config(tmp_path, example_repos, f"http://127.0.0.1:{port}/kojihub"))
    answer = down.client.get("/api/v1/hosts")
    assert answer.status_code == 503 and answer.headers["retry-after"]
    assert answer.json()["error"].startswith("koji is unreachable: ")
    koji_hub.offline = 1                     # koji's own ServerOffline fault
    offline = make_api(f"sqlite:///{tmp_path / 'offline.sqlite'}",
                       make_config(tmp_path, example_repos, koji_hub.url,
                                   hosts_cache_seconds=0.0))
    answer = offline.client.get("/api/v1/hosts")
    assert answer.status_code == 503 and "server is offline" in answer.json()["error"]
    assert offline.client.get("/api/v1/hosts").status_code == 200      # back: asked again


def test_host_rows_koji_garbles_are_named_not_fatal():
    from discomy.web.hosts import convert

    view = convert([{"id": 1, "name": "ok", "arches": "x86_64", "capacity": 4.0,
                     "task_load": 0.0, "ready": True, "enabled": True},
                    {"id": 2, "name": "bad", "arches": "x86_64", "capacity": "lots"},
                    {"name": "no id"}],
                   [{"host_id": 1, "data": {"discomy": {"cpus": "many", "speed": 2.0}}}], 0.0)
    assert [h["name"] for h in view["hosts"]] == ["ok"]
    assert view["hosts"][0]["cpus"] is None and view["hosts"][0]["speed"] == 2.0
    assert "host data cpus='many' is not a valid number" in view["hosts"][0]["warnings"][0]
    assert view["unread"][0].startswith("host 2: ") and \
        view["unread"][1].startswith("a host row without an id")
    assert view["fleet"]["hosts"] == 1


def test_a_hub_plugin_that_refuses_leaves_the_fleet_of_listhosts_and_says_so(api, koji_hub):
    """The stand-in hub has no discomy.hostCapabilities: koji's "Invalid method" fault
    means no plugin (drained is null); any other fault of the plugin is named, and the
    fleet is still listHosts'."""
    import koji

    from discomy.web.hosts import hub_hosts

    view = api.client.get("/api/v1/hosts").json()
    assert view["hub_plugin"] is False and view["unread"] == []
    assert {h["name"]: h["drained"] for h in view["hosts"]} == {"b1": None, "b2": None}

    class Refusing:
        class discomy:
            @staticmethod
            def hostCapabilities():
                raise koji.GenericError("relation scheduler_sys_data does not exist")

    found, unread = hub_hosts(Refusing(), [{"id": 1}])
    assert found is None
    assert unread == ["the hub's discomy.hostCapabilities refused: relation "
                      "scheduler_sys_data does not exist"]
