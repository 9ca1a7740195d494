"""The kernel: what every app may use. It imports Django and third-party packages only,
never one of the project's apps, so it sits below all of them."""
