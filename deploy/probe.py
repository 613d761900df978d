"""The one probe of a host, run once per host at the start of every run and by ``status`` (pure).

:func:`command` asks, in one session, where ``current`` points and its REVISION (:func:`deploy.remote.probe`);
on a blue/green host also the live colour and each colour's release, SHA and whether its app answers
(:func:`deploy.bluegreen.probe`). :func:`parse` reads that output back into a :class:`HostProbe`: a garbled
colour section is reported apart (``colours_garbled``), since the host's ``current`` may still be known.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploy import bluegreen, remote


@dataclass(frozen=True)
class HostProbe:
    current: remote.Current | None  # None: the probe printed too little to tell
    colours: bluegreen.ColourProbe | None = None  # blue/green hosts only
    colours_garbled: bool = False  # a blue/green host whose colour section could not be read


def command(deploy_to: str, colours: bluegreen.HostColours | None = None) -> str:
    if colours is None:
        return remote.probe(deploy_to)
    return remote.sections(remote.probe(deploy_to), bluegreen.probe(colours.deploy_to, colours.address, colours.ports))


def parse(output: str, with_colours: bool = False) -> HostProbe:
    if not with_colours:
        return HostProbe(remote.parse_probe(output))
    head, tail = remote.split_sections(output, 2)
    colours = bluegreen.parse_probe(tail)
    return HostProbe(remote.parse_probe(head), colours, colours is None)
