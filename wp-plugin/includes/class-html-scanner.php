<?php
/**
 * The HTML tokenizer of auto-blocking on WordPress without WP_HTML_Tag_Processor's text access
 * (before 6.5): it finds tags, their attributes and a SCRIPT's text by the rules the tag
 * processor of WordPress 6.5 follows (comments, doctype, CDATA and processing-instruction
 * lookalikes, `</` funky comments, script data with its escaped states, RCDATA and RAWTEXT
 * elements), and applies attribute edits with the same serialization (esc_attr, new
 * attributes after the tag name in the processor's order, removed attributes keep the
 * whitespace before them). BlockingTest checks both give byte-identical pages.
 *
 * @package SecurePrivacy
 */

defined( 'ABSPATH' ) || exit;

/**
 * One pass over a document: rewrite() calls a function for every opening tag and applies the
 * edits it returns.
 */
final class Secure_Privacy_HTML_Scanner {

	/**
	 * A tag's attributes up to its '>', as read_attributes() reads them: separators (whitespace,
	 * '/'), a name (from '=' or up to '=', '/', '>' or whitespace), optionally '=' and a
	 * double-quoted, single-quoted or unquoted value. Possessive: no other reading is tried.
	 */
	private const ATTRIBUTES = '~\G(?:[ \t\f\r\n/]*+(?:=[^=\/> \t\f\r\n]*+|[^=\/> \t\f\r\n]++)[ \t\f\r\n]*+(?:=[ \t\f\r\n]*+(?:"[^"]*+"|\'[^\']*+\'|[^> \t\f\r\n]*+))?+)*+[ \t\f\r\n/]*+~';

	/**
	 * A run of tokens the scan passes over: text; a '<' that starts no token; a closing tag;
	 * an opening tag not named in SPECIAL (name: a letter, then up to whitespace, '/' or '>'),
	 * with its attributes (ATTRIBUTES) and its '>'; a comment (`<!-->`, `<!--->` or up to the
	 * first `-->` or `--!>`), a doctype or bogus comment (`<!` up to '>'), a processing
	 * instruction lookalike (`<?` up to '>'); a STYLE, TITLE, TEXTAREA, NOEMBED, NOFRAMES or XMP
	 * element whole, up to the first closer of its name that is followed by whitespace (not
	 * form feed), '/' or '>' and ends with its attributes at '>' (skip_rcdata()'s rule). What
	 * does not match (input cut short, SCRIPT, IFRAME, IMG, LINK) is left to the code below.
	 */
	private const SKIP = '~\G(?:[^<]++|<(?![!?/a-zA-Z])|<(?:/[a-zA-Z]|(?!(?i:script|iframe|img|link|textarea|title|noembed|noframes|style|xmp)[ \t\f\r\n/>])[a-zA-Z])[^ \t\f\r\n/>]*+' . self::ATTRS . '>'
		. '|<!--(?:-*+>|(?s:.)*?--!?>)|<!(?!--)[^>]*+>|<\?[^>]*+>'
		. '|<((?i:style|title|textarea|noembed|noframes|xmp))(?=[ \t\f\r\n/>])' . self::ATTRS . '>(?:[^<]++|<(?!/(?i:\1)[ \t\r\n/>]))*+</(?i:\1)(?=[ \t\r\n/>])' . self::ATTRS . '>)*+~';

	/** ATTRIBUTES without its anchor, for SKIP. */
	private const ATTRS = '(?:[ \t\f\r\n/]*+(?:=[^=\/> \t\f\r\n]*+|[^=\/> \t\f\r\n]++)[ \t\f\r\n]*+(?:=[ \t\f\r\n]*+(?:"[^"]*+"|\'[^\']*+\'|[^> \t\f\r\n]*+))?+)*+[ \t\f\r\n/]*+';

	/** The tags read in full: those blocking may change, and those holding raw text. */
	private const SPECIAL = array(
		'SCRIPT'   => 1,
		'IFRAME'   => 1,
		'IMG'      => 1,
		'LINK'     => 1,
		'TEXTAREA' => 1,
		'TITLE'    => 1,
		'NOEMBED'  => 1,
		'NOFRAMES' => 1,
		'STYLE'    => 1,
		'XMP'      => 1,
	);

	/** The tags blocking may change (secure_privacy_block_edits()). */
	private const BLOCKABLE = array(
		'SCRIPT' => 1,
		'IFRAME' => 1,
		'IMG'    => 1,
		'LINK'   => 1,
	);

	/** Where an opening tag's contents are raw text up to its closer. */
	private const RAW_TEXT = array(
		'SCRIPT'   => 1,
		'TEXTAREA' => 1,
		'TITLE'    => 1,
		'IFRAME'   => 1,
		'NOEMBED'  => 1,
		'NOFRAMES' => 1,
		'STYLE'    => 1,
		'XMP'      => 1,
	);

	/**
	 * The document.
	 *
	 * @var string
	 */
	private $html;

	/**
	 * Its length.
	 *
	 * @var int
	 */
	private $len;

	/**
	 * Attributes of the tag being read: lowercase name => [start, length, value start, value length, is boolean].
	 *
	 * @var array
	 */
	private $attributes = array();

	/**
	 * Spans [start, length] of repeated attributes, by lowercase name.
	 *
	 * @var array
	 */
	private $duplicates = array();

	/**
	 * Constructor.
	 *
	 * @param string $html The document.
	 */
	public function __construct( string $html ) {
		$this->html = $html;
		$this->len  = strlen( $html );
	}

	/**
	 * The document with every opening tag's edits applied.
	 *
	 * @param callable $decide fn( string $tag, callable $attr, string $text ): array of
	 *                         ['set', name, value] and ['remove', name] (secure_privacy_block_edits()),
	 *                         called for SCRIPT, IFRAME, IMG and LINK (BLOCKABLE: the tags blocking may change).
	 * @param bool     $with_processor Make the edits with WP_HTML_Tag_Processor (WordPress 6.3+),
	 *                                 on each changed element alone; else as it would make them.
	 */
	public function rewrite( callable $decide, bool $with_processor = false ): string {
		$edits = array();
		$at    = 0;
		$html  = $this->html;
		// The attributes of the tag being decided (read while $decide runs; one closure for all).
		$attr = function ( string $name ) {
			$a = $this->attributes[ strtolower( $name ) ] ?? null;
			if ( null === $a ) {
				return null;
			}
			return $a[4] ? true : html_entity_decode( substr( $this->html, $a[2], $a[3] ) );
		};
		while ( null !== ( $tag = $this->next_tag( $at ) ) ) {
			$at = $tag['next'];
			if ( $tag['closing'] || ! isset( self::BLOCKABLE[ $tag['name'] ] ) ) {
				continue;
			}
			$ops = $decide( $tag['name'], $attr, $tag['text'] );
			if ( ! $ops ) {
				continue;
			}
			if ( $with_processor ) {
				// WordPress's tag processor makes the edits, on this one element.
				$element = substr( $html, $tag['start'], $tag['next'] - $tag['start'] );
				$p       = new WP_HTML_Tag_Processor( $element );
				$p->next_tag();
				foreach ( $ops as $op ) {
					if ( 'remove' === $op[0] ) {
						$p->remove_attribute( $op[1] );
					} else {
						$p->set_attribute( $op[1], $op[2] );
					}
				}
				$edits[] = array( $tag['start'], strlen( $element ), $p->get_updated_html() );
				continue;
			}
			// Each tag's replacements in the order the tag processor makes them (tags do not
			// overlap: the document's are then in order too).
			$mine = $this->edits_for( $ops, $tag, $this->attributes, $this->duplicates );
			if ( count( $mine ) > 1 ) {
				usort(
					$mine,
					static function ( $a, $b ) {
						return ( $a[0] - $b[0] ) ?: ( strcmp( $a[2], $b[2] ) ?: $a[1] - $b[1] );
					}
				);
			}
			foreach ( $mine as $edit ) {
				$edits[] = $edit;
			}
		}
		return $this->apply( $edits );
	}

	/**
	 * The replacements [start, length, text] that carry out $ops on one tag, as the tag
	 * processor makes them (one per attribute name, the last call for a name wins).
	 *
	 * @param array $ops        Edits.
	 * @param array $tag        The tag (name_end).
	 * @param array $attributes Its attributes.
	 * @param array $duplicates Its repeated attributes.
	 */
	private function edits_for( array $ops, array $tag, array $attributes, array $duplicates ): array {
		$by_name = array();
		$extra   = array();
		foreach ( $ops as $op ) {
			$name = strtolower( $op[1] );
			if ( 'remove' === $op[0] ) {
				unset( $by_name[ $name ] );
				if ( isset( $attributes[ $name ] ) ) {
					$by_name[ $name ] = array( $attributes[ $name ][0], $attributes[ $name ][1], '' );
					foreach ( $duplicates[ $name ] ?? array() as $span ) {
						$extra[] = array( $span[0], $span[1], '' );
					}
				}
				continue;
			}
			$text = $op[1] . '="' . self::esc_attr( (string) $op[2] ) . '"';
			if ( isset( $attributes[ $name ] ) ) {
				$by_name[ $name ] = array( $attributes[ $name ][0], $attributes[ $name ][1], $text );
			} else {
				$by_name[ $name ] = array( $tag['name_end'], 0, ' ' . $text );
			}
		}
		return array_merge( array_values( $by_name ), $extra );
	}

	/**
	 * esc_attr( $value ), kept per value for the request: a page sets the same few values
	 * (`text/plain`, a category, a service's name) on every element it blocks, and each
	 * esc_attr() call checks the charset option, validates UTF-8 and runs a filter. Not kept
	 * while a plugin filters `attribute_escape` (its answer may change).
	 *
	 * @param string $value An attribute value.
	 */
	private static function esc_attr( string $value ): string {
		static $memo = array();
		if ( isset( $memo[ $value ] ) ) {
			return $memo[ $value ];
		}
		$escaped = esc_attr( $value );
		if ( count( $memo ) < 200 && ! ( function_exists( 'has_filter' ) && has_filter( 'attribute_escape' ) ) ) {
			$memo[ $value ] = $escaped;
		}
		return $escaped;
	}

	/**
	 * The document with the replacements made.
	 *
	 * @param array $edits [start, length, text] each, in the order the tag processor makes them
	 *                     (by offset; at one offset, by text, then length).
	 */
	private function apply( array $edits ): string {
		if ( ! $edits ) {
			return $this->html;
		}
		$out    = '';
		$copied = 0;
		foreach ( $edits as $e ) {
			$out   .= substr( $this->html, $copied, $e[0] - $copied ) . $e[2];
			$copied = $e[0] + $e[1];
		}
		return $out . substr( $this->html, $copied );
	}

	/**
	 * The next tag from byte $at: name (upper case), closing, name_end, text (a raw-text
	 * element's contents), next (where to go on); null at the end or at incomplete input.
	 * Sets $this->attributes and $this->duplicates.
	 *
	 * @param int $at Byte offset.
	 */
	private function next_tag( int $at ): ?array {
		$html = $this->html;
		$len  = $this->len;
		while ( $at < $len ) {
			// Skip, in one search, the run of text and of tags that neither blocking reads nor
			// hold raw text, by the same grammar; the loop below takes the next other token.
			if ( 1 === preg_match( self::SKIP, $html, $m, 0, $at ) ) {
				$at += strlen( $m[0] );
				if ( $at >= $len ) {
					return null;
				}
			}
			$lt = strpos( $html, '<', $at );
			if ( false === $lt || $lt + 1 >= $len ) {
				return null;
			}
			$c = $html[ $lt + 1 ];
			if ( '!' !== $c && '/' !== $c && '?' !== $c && ! ( ( 'a' <= $c && $c <= 'z' ) || ( 'A' <= $c && $c <= 'Z' ) ) ) {
				$at = $lt + 1;
				continue; // Text.
			}
			$closing = '/' === $c;
			$name_at = $lt + ( $closing ? 2 : 1 );
			$letters = strspn( $html, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', $name_at );
			if ( $letters > 0 ) {
				$name_len = $letters + strcspn( $html, " \t\f\r\n/>", $name_at + $letters );
				$first    = $html[ $name_at ];
				$name = $closing || false === strpos( 'iInNsStTxXlL', $first ) ? '' : strtoupper( substr( $html, $name_at, $name_len ) );
				if ( ! isset( self::SPECIAL[ $name ] ) || 'LINK' === $name ) {
					// Neither read by blocking nor holding raw text (or a LINK whose attributes
					// name no relation that fetches: most of a page's links; a substring test
					// of secure_privacy_link_edits()' exact `rel` tokens): only where it ends
					// matters. The attribute grammar of read_attributes() as one
					// expression; where it does not stop at '>' (input cut short), the exact
					// parser decides.
					if ( 1 === preg_match( self::ATTRIBUTES, $html, $m, 0, $name_at + $name_len ) ) {
						$end = $name_at + $name_len + strlen( $m[0] );
						if ( $end + 1 < $len && '>' === $html[ $end ] && ( 'LINK' !== $name || 1 !== preg_match( '~stylesheet|preload|prefetch|preconnect~i', $m[0] ) ) ) {
							$at = $end + 1;
							continue;
						}
					}
				}
				$tag = $this->finish_tag( $lt, $name_at, $name_len, $closing );
				if ( null === $tag ) {
					return null;
				}
				return $tag;
			}
			$at = $this->skip_other( $lt, $closing );
			if ( null === $at ) {
				return null;
			}
		}
		return null;
	}

	/**
	 * Read a tag's attributes and, for a raw-text element, its contents.
	 *
	 * @param int  $lt       Offset of '<'.
	 * @param int  $name_at  Offset of the tag name.
	 * @param int  $name_len Its length.
	 * @param bool $closing  A closer.
	 */
	private function finish_tag( int $lt, int $name_at, int $name_len, bool $closing ): ?array {
		$this->attributes = array();
		$this->duplicates = array();
		$name = strtoupper( substr( $this->html, $name_at, $name_len ) );
		$raw  = ! $closing && isset( self::RAW_TEXT[ $name ] );
		$pos = $this->read_attributes( $name_at + $name_len, ! $closing );
		if ( null === $pos || $pos >= $this->len ) {
			return null;
		}
		$gt = strpos( $this->html, '>', $pos );
		if ( false === $gt ) {
			return null;
		}
		$tag = array(
			'name'     => $name,
			'closing'  => $closing,
			'name_end' => $name_at + $name_len,
			'text'     => '',
			'start'    => $lt,
			'next'     => $gt + 1,
		);
		if ( ! $raw ) {
			return $tag;
		}
		$closer = 'SCRIPT' === $name ? $this->skip_script_data( $gt + 1 ) : $this->skip_rcdata( $gt + 1, $name );
		if ( null === $closer ) {
			return null;
		}
		$tag['text'] = substr( $this->html, $gt + 1, $closer[0] - $gt - 1 );
		$tag['next'] = $closer[1];
		return $tag;
	}

	/**
	 * Parse attributes from $pos; returns where parsing stopped, or null at incomplete input.
	 *
	 * @param int  $pos    Byte offset.
	 * @param bool $record Keep them (an opening tag).
	 */
	private function read_attributes( int $pos, bool $record ): ?int {
		$html = $this->html;
		$len  = $this->len;
		while ( true ) {
			$pos += strspn( $html, " \t\f\r\n/", $pos );
			if ( $pos >= $len ) {
				return null;
			}
			$name_len = '=' === $html[ $pos ] ? 1 + strcspn( $html, "=/> \t\f\r\n", $pos + 1 ) : strcspn( $html, "=/> \t\f\r\n", $pos );
			if ( 0 === $name_len || $pos + $name_len >= $len ) {
				return $pos;
			}
			$start = $pos;
			$name  = substr( $html, $start, $name_len );
			$pos  += $name_len;
			$pos  += strspn( $html, " \t\f\r\n", $pos );
			if ( $pos >= $len ) {
				return null;
			}
			$has_value = '=' === $html[ $pos ];
			if ( $has_value ) {
				++$pos;
				$pos += strspn( $html, " \t\f\r\n", $pos );
				if ( $pos >= $len ) {
					return null;
				}
				$quote = $html[ $pos ];
				if ( '"' === $quote || "'" === $quote ) {
					$value_at  = $pos + 1;
					$value_len = strcspn( $html, $quote, $value_at );
					$end       = $value_at + $value_len + 1;
				} else {
					$value_at  = $pos;
					$value_len = strcspn( $html, "> \t\f\r\n", $value_at );
					$end       = $value_at + $value_len;
				}
				$pos = $end;
			} else {
				$value_at  = $pos;
				$value_len = 0;
				$end       = $start + $name_len;
			}
			if ( $end >= $len ) {
				return null;
			}
			if ( ! $record ) {
				continue;
			}
			$key = strtolower( $name );
			if ( ! isset( $this->attributes[ $key ] ) ) {
				$this->attributes[ $key ] = array( $start, $end - $start, $value_at, $value_len, ! $has_value );
			} else {
				$this->duplicates[ $key ][] = array( $start, $end - $start );
			}
		}
	}

	/**
	 * Skip what starts at $lt and is not a tag: a comment, doctype, bogus comment, `<>`, `<?...>`
	 * or `</...>` funky comment; returns the offset after it, or null at incomplete input.
	 * (Offsets as the tag processor counts them: after `</`, from the slash.)
	 *
	 * @param int  $lt      Offset of '<'.
	 * @param bool $closing It starts with '</'.
	 */
	private function skip_other( int $lt, bool $closing ): ?int {
		$html = $this->html;
		$len  = $this->len;
		$at   = $closing ? $lt + 1 : $lt;
		if ( $at + 1 >= $len ) {
			return null;
		}
		$c = $html[ $at + 1 ];
		if ( '!' === $c ) {
			if ( $len > $at + 3 && '-' === $html[ $at + 2 ] && '-' === $html[ $at + 3 ] ) {
				$closer = $at + 4;
				if ( $len <= $closer ) {
					return null;
				}
				$dashes = strspn( $html, '-', $closer );
				if ( $closer + $dashes < $len && '>' === $html[ $closer + $dashes ] ) {
					return $closer + $dashes + 1;
				}
				--$closer;
				while ( ++$closer < $len ) {
					$closer = strpos( $html, '--', $closer );
					if ( false === $closer ) {
						return null;
					}
					if ( $closer + 2 < $len && '>' === $html[ $closer + 2 ] ) {
						return $closer + 3;
					}
					if ( $closer + 3 < $len && '!' === $html[ $closer + 2 ] && '>' === $html[ $closer + 3 ] ) {
						return $closer + 4;
					}
				}
				return null;
			}
			$gt = strpos( $html, '>', $at + 1 ); // Doctype, CDATA lookalike, bogus comment.
			return false === $gt ? null : $gt + 1;
		}
		if ( '>' === $c ) {
			return $at + 2;
		}
		if ( '?' === $c ) {
			$gt = strpos( $html, '>', $at + 2 );
			return false === $gt ? null : $gt + 1;
		}
		if ( $closing ) {
			if ( $at + 3 > $len ) {
				return null;
			}
			$gt = strpos( $html, '>', $at + 3 );
			return false === $gt ? null : $gt + 1;
		}
		return $at + 1;
	}

	/**
	 * Find the closer of an RCDATA/RAWTEXT element from $at: [closer start, offset after it], or null.
	 *
	 * @param int    $at   Offset after the opening tag.
	 * @param string $name The element's name, upper case.
	 */
	private function skip_rcdata( int $at, string $name ): ?array {
		$html = $this->html;
		$len  = $this->len;
		$n    = strlen( $name );
		while ( $at < $len ) {
			$at = strpos( $html, '</', $at );
			if ( false === $at || $at + $n >= $len ) {
				return null;
			}
			$closer_at = $at;
			$at       += 2;
			if ( 0 !== strncasecmp( substr( $html, $at, $n ), $name, $n ) ) {
				continue;
			}
			$at += $n;
			if ( $at >= $len ) {
				return null;
			}
			$c = $html[ $at ];
			if ( ' ' !== $c && "\t" !== $c && "\r" !== $c && "\n" !== $c && '/' !== $c && '>' !== $c ) {
				continue;
			}
			if ( '>' === $c ) {
				return array( $closer_at, $at + 1 ); // `</name>`: what read_attributes() finds.
			}
			$at = $this->read_attributes( $at, false );
			if ( null === $at || $at >= $len ) {
				return null;
			}
			if ( '>' === $html[ $at ] ) {
				return array( $closer_at, $at + 1 );
			}
			if ( $at + 1 >= $len ) {
				return null;
			}
			if ( '/' === $html[ $at ] && '>' === $html[ $at + 1 ] ) {
				return array( $closer_at, $at + 2 );
			}
		}
		return null;
	}

	/**
	 * Find the `</script>` that ends script data from $at, through its escaped and
	 * double-escaped states: [closer start, offset after it], or null.
	 *
	 * @param int $at Offset after the opening tag.
	 */
	private function skip_script_data( int $at ): ?array {
		$html = $this->html;
		$len  = $this->len;
		// Most scripts hold no `<!--`: then no escaped state is ever entered, and the first
		// `</script` that ends a closer ends them, unless the state machine steps over its '<'
		// (it skips the character after a '<', '</' or 'script' it found no closer at: a '<'
		// after '<', '/' or 't'). Found with two searches instead of a stop at every '-' and '<'
		// of the text; anything else goes through the state machine below, from the start.
		$from = $at;
		while ( true ) {
			$closer_at = stripos( $html, '</script', $from );
			if ( false === $closer_at || $closer_at + 8 >= $len || 0 !== substr_count( $html, '<!--', $at, $closer_at - $at ) ) {
				break;
			}
			$c = $html[ $closer_at + 8 ];
			if ( ' ' === $c || "\t" === $c || "\r" === $c || "\n" === $c || '/' === $c || '>' === $c ) {
				if ( $closer_at > $at && false !== strpos( '</tT', $html[ $closer_at - 1 ] ) ) {
					break;
				}
				if ( '>' === $c ) {
					return array( $closer_at, $closer_at + 9 ); // `</script>`: what read_attributes() finds.
				}
				$end = $this->read_attributes( $closer_at, false );
				if ( null === $end || $end >= $len ) {
					return null;
				}
				if ( '>' === $html[ $end ] ) {
					return array( $closer_at, $end + 1 );
				}
				break;
			}
			$from = $closer_at + 1;
		}
		return $this->skip_script_data_states( $at );
	}

	/**
	 * skip_script_data() from $at, in the unescaped state, through every state.
	 *
	 * @param int $at Offset in script data, unescaped.
	 */
	private function skip_script_data_states( int $at ): ?array {
		$html  = $this->html;
		$len   = $this->len;
		$state = 'unescaped';
		while ( $at < $len ) {
			$at += strcspn( $html, '-<', $at );
			if ( $at + 2 < $len && '-' === $html[ $at ] && '-' === $html[ $at + 1 ] && '>' === $html[ $at + 2 ] ) {
				$at   += 3;
				$state = 'unescaped';
				continue;
			}
			if ( $at + 1 >= $len ) {
				return null; // A '-' or '<' last: no closer (this went round for ever before).
			}
			if ( '<' !== $html[ $at++ ] ) {
				continue;
			}
			if ( $at + 2 < $len && '!' === $html[ $at ] && '-' === $html[ $at + 1 ] && '-' === $html[ $at + 2 ] ) {
				$at   += 3;
				$state = 'unescaped' === $state ? 'escaped' : $state;
				continue;
			}
			$closer_at = $at - 1;
			$is_closing = '/' === $html[ $at ];
			if ( $is_closing ) {
				++$at;
			}
			if ( ! ( $at + 6 < $len && 0 === strncasecmp( substr( $html, $at, 6 ), 'script', 6 ) ) ) {
				++$at;
				continue;
			}
			$at += 6;
			$c   = $html[ $at ];
			if ( ' ' !== $c && "\t" !== $c && "\r" !== $c && "\n" !== $c && '/' !== $c && '>' !== $c ) {
				++$at;
				continue;
			}
			if ( 'escaped' === $state && ! $is_closing ) {
				$state = 'double-escaped';
				continue;
			}
			if ( 'double-escaped' === $state && $is_closing ) {
				$state = 'escaped';
				continue;
			}
			if ( $is_closing ) {
				$end = $this->read_attributes( $closer_at, false );
				if ( null === $end || $end >= $len ) {
					return null;
				}
				if ( '>' === $html[ $end ] ) {
					return array( $closer_at, $end + 1 );
				}
			}
			++$at;
		}
		return null;
	}
}
