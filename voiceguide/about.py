"""What voiceguide is and is not, and when to look for help.

``voiceguide about`` prints :data:`ABOUT_TEXT`; the README says the same.
This module imports nothing, so it is cheap to load on a Raspberry Pi.
"""

ABOUT_TEXT = """\
voiceguide

voiceguide reads short exercises aloud in a slow, quiet voice over a soft
background sound: a body scan, pressing your palms together, walking barefoot,
paced breathing, journaling prompts and a ten-minute daily check-in. They are
small ways of coming back into contact with your body and your feelings,
especially on days when everything feels flat, muffled or far away. You may
stop any exercise at any time.

What it is not

voiceguide is not a treatment, and it is not a substitute for care from a
doctor, a therapist or another qualified person. It cannot assess how you
are, and it makes no promise that anything will change. If an exercise makes
you feel worse, stop, and be gentle with yourself.

When to talk to a professional

Please consider reaching out to a doctor or a mental health professional if:

  - the numbness lasts for more than four to six weeks;
  - you have a history of trauma, depression or anxiety;
  - you are using alcohol, drugs or other substances to cope;
  - you feel detached from reality, or from yourself, as if watching from
    the outside;
  - your daily life is significantly impaired: work, sleep, eating,
    relationships or looking after yourself have become hard.

Asking for help is a reasonable and ordinary thing to do, not a sign that you
have failed at anything.

If you are in crisis

If you are in crisis, or thinking about harming yourself, contact your local
emergency services or a crisis line now. If you can, tell someone near you,
and do not stay alone with it.
"""
