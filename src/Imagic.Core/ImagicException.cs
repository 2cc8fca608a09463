namespace Imagic;

/// <summary>
/// An error the user can act on: a missing file, a corrupt checkpoint, a bad option.
/// The CLI prints <see cref="Exception.Message"/> alone, never a stack trace, so the message must
/// name the file, key or value at fault and, where possible, what to do about it.
/// </summary>
public class ImagicException : Exception
{
    public ImagicException(string message) : base(message) { }

    public ImagicException(string message, Exception inner) : base(message, inner) { }
}
