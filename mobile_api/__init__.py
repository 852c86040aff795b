"""The mobile API for enforcement squads, mounted at /mobile/v1; it calls domain services."""
