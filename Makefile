# Thin aliases for ./dev, which needs nothing but sh and Python 3.11+.
.PHONY: demo test check bench
demo:
	./dev demo
test:
	./dev test
check:
	./dev check
bench:
	./dev bench
