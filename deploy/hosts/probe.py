"""The one probe of a host, run once per host at the start of every run and by ``status`` (pure).

:func:`command` asks, in one session, where ``current`` points and its REVISION (:func:`deploy.hosts.remote.probe`);
on a blue/green host also the live colour and each colour's release, SHA and whether its app answers
(:func:`deploy.hosts.bluegreen.probe`). :func:`parse` reads that output back into a :class:`HostProbe`: a garbled
colour section is reported apart (``colours_garbled``), since the host's ``current`` may still be known.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploy.hosts import bluegreen, framing, remote


@dataclass(frozen=True)
class HostProbe:
    current: remote.Current | None  # None: the probe printed too little to tell
    colours: bluegreen.ColourProbe | None = None  # blue/green hosts only
    colours_garbled: bool = False  # a blue/green host whose colour section could not be read


def command(deploy_to: str, frame: framing.Frame, colours: bluegreen.HostColours | None = None) -> str:
    """The probe; a blue/green host's colour section follows ``frame``'s section marker."""
    if colours is None:
        return remote.probe(deploy_to)
    colour_probe = bluegreen.probe(colours.deploy_to, colours.address, colours.ports)
    return remote.sections(frame, remote.probe(deploy_to), colour_probe)


def parse(output: str, frame: framing.Frame, with_colours: bool = False) -> HostProbe:
    """:func:`command`'s output (built with ``frame``) read back."""
    if not with_colours:
        return HostProbe(remote.parse_probe(output))
    head, tail = remote.split_sections(output, frame, 2)
    colours = bluegreen.parse_probe(tail)
    return HostProbe(remote.parse_probe(head), colours, colours is None)
