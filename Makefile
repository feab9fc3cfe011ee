# Thin aliases for dev.py, which needs only Python.
.PHONY: demo test lint bench build
demo:
	python3 dev.py demo
test:
	python3 dev.py test
lint:
	python3 dev.py lint
bench:
	python3 dev.py bench
build:
	python3 dev.py build
