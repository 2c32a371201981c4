"""PHI encryption: per-patient envelope encryption, blind indexes, crypto-shredding.

This package is the only code that touches cryptographic primitives (ruff's
banned-api rule keeps ``cryptography`` imports and Django's ``salted_hmac``
here; digests.py wraps the latter). Importing the package
itself loads nothing: ``signing`` is used offline, without Django.

Keys
----
- **Data key**: 32 random bytes per patient (AES-256-GCM), encrypting that
  patient's field values (fields.py). Never stored in the clear.
- **KEK** (key-encryption key): versioned, from ``PORTAL_KEKS`` or
  ``PORTAL_KEKS_FILE`` (``"2:base64,1:base64"``). The newest version wraps;
  older ones only unwrap until ``manage.py rotate_keys`` has re-wrapped every
  key (``rotate_keys --check``), after which they can be removed.
- **Key share**: 32 random bytes per patient in the key store
  (``PORTAL_KEY_STORE_DIR``, keystore.py), *outside the database*.
- **PatientKey** row: ``wrapped_key = AES-GCM(HKDF(KEK_v || share, patient id), data key)``
  (envelope.py), bound to the patient and the KEK version.

Why the share: crypto-shredding must also defeat database dumps taken before
the shred. Such a dump holds the patient's wrapped key, and the KEK has to
live on for every other patient, so a key wrapped by the KEK alone would stay
readable to anyone holding an old dump and the KEK. The share is the one
per-patient secret that is in no dump: ``manage.py shred_patient`` destroys it
(and empties the wrapped key, keeping the row as the disposal record), so the
wrapped key in every copy of the database, past or future, opens nothing.

Operational requirements (the limits of the guarantee)
------------------------------------------------------
1. The key store must not live in the database or in its backups. Every web
   node needs the same store: a shared volume, or a KMS/Vault-backed class with
   the same three methods (``get``, ``create``, ``destroy``).
2. A copy of the key store taken before a shred, together with an old dump and
   the KEK, still opens that patient's data. Back the store up separately with
   a short retention (``manage.py backup_keys``, encrypted to an offline
   recovery key); a disposal is complete, against every copy, once the last
   key-store backup older than it has expired. Losing the store loses all PHI,
   so it must be backed up somewhere. Each shred is also appended to
   ``disposals.log`` in the store (disposals.py): restoring a database or key
   backup older than a shred re-applies it (docs/operations.md).
3. Unlinking a file does not erase blocks on SSDs, copy-on-write file systems
   or snapshots. Put the store where deletion is final (e.g. an encrypted
   volume without retained snapshots, or a KMS).
4. Unwrapped data keys are cached for one request or ``key_scope()`` block
   (scope.py); a shred takes effect in every process at its next request.
5. Blind indexes are cleared on shred, but one in an old dump still confirms a
   guessed value to whoever holds the blind-index key. Ciphertext length
   reveals plaintext length. Python cannot wipe keys from memory.

Using it
--------
::

    class Allergy(PHIModel):                       # UUID primary key from PHIModel
        patient = models.ForeignKey(Patient, on_delete=models.PROTECT)
        substance = EncryptedTextField()
        noted_on = EncryptedDateField()

    Allergy(patient=p, substance="penicillin", noted_on=today).save()  # encrypts
    allergy.substance                                  # decrypts on first access
    PatientDemographics.objects.filter(mrn_index=blind_index("A-123", purpose="mrn"))
"""
