from clitools import assert_one_line_error, run_cli

def test_pipeline_fixture(pipeline):
    assert (pipeline.out / "activity.h5").is_file()
