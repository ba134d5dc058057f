"""docker/compose.yaml and docker/k8s/flink-deployment.yaml run the real job with arguments
it accepts, after a provision step that prepares the same servers and keyspace."""

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from streamrec.job_config import flags as config_flags
from streamrec.jobs import recommend
from streamrec.stack import provision

DOCKER = Path(__file__).resolve().parents[2] / "docker"
JOB_SCRIPT = "/opt/streamrec/streamrec/jobs/recommend.py"


def _compose() -> tuple[list[str], list[str]]:
    services = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
    command = services["jobmanager"]["command"]
    assert command[:3] == ["standalone-job", "--python", JOB_SCRIPT]
    return command[3:], services["provision"]["command"]


def _kubernetes() -> tuple[list[str], list[str]]:
    spec = yaml.safe_load((DOCKER / "k8s" / "flink-deployment.yaml").read_text())["spec"]
    args = spec["job"]["args"]
    assert args[args.index("-py") + 1] == JOB_SCRIPT
    init = spec["jobManager"]["podTemplate"]["spec"]["initContainers"][0]["command"]
    assert init[1:3] == ["-m", "streamrec.stack.provision"]
    return args[args.index("-py") + 2 :], init[3:]


@pytest.mark.parametrize("read", [_compose, _kubernetes], ids=["compose", "kubernetes"])
def test_the_job_and_its_provisioning_agree(
    read: Callable[[], tuple[list[str], list[str]]],
) -> None:
    job_args, provision_args = read()
    job = recommend.parse_args(job_args)
    prepared = provision.parse_args(provision_args)
    assert (job.bootstrap, job.cassandra, job.keyspace) == (
        prepared.bootstrap,
        prepared.cassandra,
        prepared.keyspace,
    )
    assert job.model_public_key, "without a trusted key every model is rejected"
    assert job.delivery == "exactly-once"


@pytest.mark.parametrize("read", [_compose, _kubernetes], ids=["compose", "kubernetes"])
def test_the_job_arguments_repeat_no_default(
    read: Callable[[], tuple[list[str], list[str]]],
) -> None:
    """Defaults live in job_config/settings.py only; the keyspace is the one kept, written beside
    the provisioning step's so that the two visibly agree."""
    job_args, _ = read()
    rendered = config_flags.to_args(config_flags.parse(job_args), changed_only=True)
    given = [arg for arg in job_args if arg.startswith("--")]
    assert sorted(given) == sorted([*rendered[::2], "--keyspace"])
