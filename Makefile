# amd_mm: `make demo` runs the tiny image (and video) pipeline end to end on CPU,
# `make test` runs the test suite. Both install the stack first if needed.
PYTHON ?= python3
PYTEST_ARGS ?=

.PHONY: install demo demo-image demo-video data test test-fast clean

install:
	PYTHON=$(PYTHON) bash tools/install.sh

data: install
	$(PYTHON) tools/make_demo_data.py --out data/demo

demo: demo-image demo-video

demo-image: data
	$(PYTHON) tools/train.py configs/tiny/mae_teacher_image_tiny.py
	$(PYTHON) tools/train.py configs/tiny/amd_image_tiny.py \
	    --cfg-options model.teacher.checkpoint=work_dirs/mae_teacher_image_tiny
	$(PYTHON) tools/print_losses.py work_dirs/amd_image_tiny

demo-video: data
	$(PYTHON) tools/train.py configs/tiny/videomae_teacher_video_tiny.py
	$(PYTHON) tools/train.py configs/tiny/amd_video_tiny.py \
	    --cfg-options model.teacher.checkpoint=work_dirs/videomae_teacher_video_tiny
	$(PYTHON) tools/print_losses.py work_dirs/amd_video_tiny

test: install
	$(PYTHON) -m pytest tests $(PYTEST_ARGS)

# the inner loop: everything but the subprocess end-to-end runs and the slow in-process
# ones (markers e2e / slow in setup.cfg); no install step
test-fast:
	$(PYTHON) -m pytest tests -m "not e2e and not slow" $(PYTEST_ARGS)

clean:
	rm -rf work_dirs data/demo
