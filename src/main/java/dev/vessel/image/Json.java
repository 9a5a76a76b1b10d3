package dev.vessel.image;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;

/** The one Jackson mapper of the image model: unknown fields ignored, nulls left out. */
public final class Json {
    private Json() {}

    /** JSON documents (manifests, configs, indexes) larger than this are refused: no memory bombs. */
    public static final int MAX_DOCUMENT = 4 << 20;

    public static final ObjectMapper MAPPER = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .serializationInclusion(JsonInclude.Include.NON_NULL)
            .build();

    /** Parses {@code bytes} as {@code type}; a malformed document is an InvalidImageException naming {@code what}. */
    public static <T> T parse(byte[] bytes, Class<T> type, String what) throws InvalidImageException {
        if (bytes.length > MAX_DOCUMENT) {
            throw new InvalidImageException(what + ": document too large (" + bytes.length + " bytes)");
        }
        try {
            T t = MAPPER.readValue(bytes, type);
            if (t == null) {
                throw new InvalidImageException(what + ": malformed JSON: null document");
            }
            return t;
        } catch (IOException e) {
            String msg = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
            int nl = msg == null ? -1 : msg.indexOf('\n');
            throw new InvalidImageException(what + ": malformed JSON: " + (nl >= 0 ? msg.substring(0, nl) : msg), e);
        }
    }

    public static byte[] write(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
