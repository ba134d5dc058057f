from streamrec.cli.simulate import job_args
from streamrec.job_config.settings import Topics
from streamrec.jobs import recommend
from streamrec.stack.config import StackConfig


def test_the_closed_loop_jobs_arguments_parse_with_the_jobs_own_parser(tmp_path) -> None:
    config = StackConfig.for_data_dir(tmp_path)
    args = job_args(config, Topics().prefixed("loop-x."))
    parsed = recommend.parse_args(args)
    assert parsed.bootstrap == config.kafka_bootstrap
    assert args.count("--bootstrap") == 1
    assert parsed.events_topic == "loop-x.events" and parsed.feedback_topic == "loop-x.feedback"
    assert (parsed.feedback_horizon_ms, parsed.feedback_window_ms) == (60_000, 30_000)
    assert parsed.job_name == "streamrec-closed-loop"
