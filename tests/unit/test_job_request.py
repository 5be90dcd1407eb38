from __future__ import annotations

from transcription_pipeline.config import load_settings
from transcription_pipeline.media import MediaFormat
from transcription_pipeline.naming import S3Location
from transcription_pipeline.start import build_job_request

BASE = {"INPUT_BUCKET": "in-bucket", "OUTPUT_BUCKET": "out-bucket", "JOB_NAME_PREFIX": "stack."}
SOURCE = S3Location("in-bucket", "uploads/My Talk.mp4")


def test_default_request() -> None:
    request = build_job_request(load_settings(BASE), SOURCE, MediaFormat.MP4, "stack.job")

    assert request == {
        "TranscriptionJobName": "stack.job",
        "Media": {"MediaFileUri": "s3://in-bucket/uploads/My Talk.mp4"},
        "MediaFormat": "mp4",
        "OutputBucketName": "out-bucket",
        "OutputKey": "_transcribe/stack.job.json",
        "LanguageCode": "en-US",
        "Settings": {"ShowSpeakerLabels": True, "MaxSpeakerLabels": 10},
    }


def test_identification_without_speaker_labels() -> None:
    settings = load_settings(
        {
            **BASE,
            "LANGUAGE_CODE": "auto",
            "LANGUAGE_OPTIONS": "en-US,fr-FR",
            "SPEAKER_LABELS": "false",
        }
    )

    request = build_job_request(settings, SOURCE, MediaFormat.WEBM, "stack.job")

    assert "LanguageCode" not in request
    assert request["IdentifyLanguage"] is True
    assert request["LanguageOptions"] == ["en-US", "fr-FR"]
    assert "Settings" not in request
    assert "ContentRedaction" not in request
    assert "MediaSampleRateHertz" not in request


def test_redaction() -> None:
    settings = load_settings({**BASE, "LANGUAGE_CODE": "es-US", "PII_REDACTION": "true"})

    request = build_job_request(settings, SOURCE, MediaFormat.WEBM, "stack.job")

    assert request["LanguageCode"] == "es-US"
    assert request["ContentRedaction"] == {"RedactionType": "PII", "RedactionOutput": "redacted"}


def test_per_file_options_shape_the_request() -> None:
    from transcription_pipeline.options import FileOptions, Source, resolve

    settings = load_settings(BASE)
    options = resolve(
        [
            Source(
                "sidecar",
                FileOptions(
                    language="auto",
                    language_options=("de-DE", "fr-FR"),
                    channels=True,
                    vocabulary_filter="swears",
                    vocabulary_filter_method="tag",
                ),
            )
        ],
        settings.stack_options(),
    )

    request = build_job_request(settings, SOURCE, MediaFormat.MP3, "stack.job.0123abcd", options)

    assert request["IdentifyLanguage"] is True
    assert request["LanguageOptions"] == ["de-DE", "fr-FR"]
    assert request["Settings"] == {
        "ChannelIdentification": True,
        "VocabularyFilterName": "swears",
        "VocabularyFilterMethod": "tag",
    }


def test_customer_key_encrypts_transcribe_output() -> None:
    settings = load_settings({**BASE, "OUTPUT_KMS_KEY_ARN": "arn:aws:kms:us-east-1:1:key/k"})

    request = build_job_request(settings, SOURCE, MediaFormat.MP3, "stack.job")

    assert request["OutputEncryptionKMSKeyId"] == "arn:aws:kms:us-east-1:1:key/k"


def test_vocabulary_with_a_fixed_language() -> None:
    settings = load_settings({**BASE, "VOCABULARY_NAME": "product-names", "MAX_SPEAKERS": "4"})

    request = build_job_request(settings, SOURCE, MediaFormat.MP3, "stack.job")

    assert request["Settings"] == {
        "ShowSpeakerLabels": True,
        "MaxSpeakerLabels": 4,
        "VocabularyName": "product-names",
    }


def test_with_the_data_access_role_jobs_may_wait_in_transcribe_s_queue() -> None:
    role = "arn:aws:iam::123456789012:role/stack-TranscribeDataAccessRole"
    settings = load_settings({**BASE, "TRANSCRIBE_DATA_ACCESS_ROLE_ARN": role})

    request = build_job_request(settings, SOURCE, MediaFormat.MP3, "stack.job")

    # Above the concurrent-job quota the job is queued, not refused; Transcribe reads and
    # writes as this role while it waits.
    assert request["JobExecutionSettings"] == {
        "AllowDeferredExecution": True,
        "DataAccessRoleArn": role,
    }
