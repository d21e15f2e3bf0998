"""Reverse geocoding offline with GeoNames towns from the `reverse_geocode` wheel (LGPL;
used as a library, unmodified). Loading its k-d tree takes about 1 s and 100 MB, so it
happens once, lazily, on the first image with a position, inside the thread pool (one
more, much smaller tree per population threshold asked for)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from pixtract.tagging.domain.places import Town


class GeoNamesGazetteer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[int, Any] = {}

    def _loaded(self, min_population: int) -> Any:
        with self._lock:
            if min_population not in self._data:
                import reverse_geocode

                # Without its bundled data file the library downloads GeoNames: never at run time.
                if not (Path(reverse_geocode.__file__).parent / "geocode.gz").exists():
                    raise RuntimeError("reverse_geocode's bundled GeoNames data is missing; reinstall the wheel")
                self._data[min_population] = reverse_geocode.GeocodeData(min_population)
            return self._data[min_population]

    def nearest(self, lat: float, lon: float, *, min_population: int = 0) -> Town | None:
        [found] = self._loaded(min_population).query([(lat, lon)])
        if not found or not found.get("city"):
            return None
        return Town(
            name=str(found["city"]),
            region=str(found.get("state") or ""),
            country=str(found.get("country") or ""),
            country_code=str(found.get("country_code") or ""),
            lat=float(found["latitude"]),
            lon=float(found["longitude"]),
        )
