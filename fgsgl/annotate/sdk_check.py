"""Run by Label Studio's own Python (its SDK): check a labeling config and predictions.

Reads a JSON file {"config": XML, "tasks": [...]} named on the command line and prints a
JSON list of problems. Standalone on purpose: that environment has no fgsgl.
"""

import json
import sys


def main() -> int:
    from label_studio_sdk.label_interface import LabelInterface

    with open(sys.argv[1], encoding="utf-8") as f:
        job = json.load(f)
    problems = []
    try:
        interface = LabelInterface(job["config"])
        interface.validate()
    except Exception as e:  # the SDK raises several kinds; each is a finding
        print(json.dumps([f"labeling config: {type(e).__name__}: {e}"]))
        return 0
    for task in job["tasks"]:
        clip = task["data"].get("clip_id", "?")
        for prediction in task.get("predictions", []):
            errors = interface.validate_prediction(prediction, return_errors=True)
            if errors is True:
                continue
            for error in errors or []:
                problems.append(f"clip {clip}: {prediction.get('model_version')}: {error}")
    print(json.dumps(problems))
    return 0


if __name__ == "__main__":
    sys.exit(main())
